"""AppSync's VTL mapping templates rendered by airspeed as canaria drives it: the AWS AppSync
Developer Guide's own templates (DynamoDB GetItem, PutItem, Query and UpdateItem, the local
resolver, the Lambda resolver, the pipeline tutorial) against the requests the guide
documents, ``$util`` and its helpers against the guide's examples, and what a template can
do besides rendering (change the stash, raise and append errors, ``#return``, log), and the
errors that name the template, the line and the text."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from canaria.appsync import dynamodb
from canaria.appsync.vtl import VtlError, VtlOutcome, render
from canaria.gateway import mapping_templates

NOW = 1517943695750  # 2018-02-06T19:01:35.750Z, the time of the guide's $util.time examples
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def run(template: str, ctx: dict[str, Any] | None = None, **options: Any) -> VtlOutcome:
    options.setdefault("now_ms", NOW)
    return render(template, ctx or {}, **options)


def value(template: str, ctx: dict[str, Any] | None = None, **options: Any) -> Any:
    """What ``template`` renders, as JSON."""
    outcome = run(template, ctx, **options)
    assert outcome.error is None, outcome.error
    return outcome.value


def args(**arguments: Any) -> dict[str, Any]:
    return {"arguments": arguments}


# ---- the guide's DynamoDB templates ---------------------------------------------------------

GET_ITEM = """{
    "version" : "2017-02-28",
    "operation" : "GetItem",
    "key" : {
        "foo" : $util.dynamodb.toDynamoDBJson($ctx.args.foo),
        "bar" : $util.dynamodb.toDynamoDBJson($ctx.args.bar)
    },
    "consistentRead" : true
}"""


def test_get_item_example() -> None:
    request = value(GET_ITEM, args(foo="f1", bar="b1"))
    assert request == {
        "version": "2017-02-28",
        "operation": "GetItem",
        "key": {"foo": {"S": "f1"}, "bar": {"S": "b1"}},
        "consistentRead": True,
    }
    operation = dynamodb.plan("things", request)  # what canaria's data source makes of it
    assert isinstance(operation, dynamodb.GetItem)


PUT_ITEM = """{
    "version" : "2017-02-28",
    "operation" : "PutItem",
    "key": {
        "foo" : $util.dynamodb.toDynamoDBJson($ctx.args.foo),
        "bar" : $util.dynamodb.toDynamoDBJson($ctx.args.bar)
    },
    "attributeValues" : {
        "name"    : $util.dynamodb.toDynamoDBJson($ctx.args.name),
        #set( $newVersion = $context.arguments.expectedVersion + 1 )
        "version" : $util.dynamodb.toDynamoDBJson($newVersion)
    },
    "condition" : {
        "expression" : "version = :expectedVersion",
        "expressionValues" : {
            ":expectedVersion" : $util.dynamodb.toDynamoDBJson($expectedVersion)
        }
    }
}"""


def test_put_item_example() -> None:
    request = value(PUT_ITEM, args(foo="f", bar="b", name="n", expectedVersion=4))
    assert request == {
        "version": "2017-02-28",
        "operation": "PutItem",
        "key": {"foo": {"S": "f"}, "bar": {"S": "b"}},
        "attributeValues": {"name": {"S": "n"}, "version": {"N": 5}},
        # as the guide writes it, $expectedVersion is never set: null, a NULL typed value
        "condition": {
            "expression": "version = :expectedVersion",
            "expressionValues": {":expectedVersion": {"NULL": None}},
        },
    }
    dynamodb.plan("things", request)


def test_put_item_with_generated_id_and_map_values() -> None:
    template = """{
        "version" : "2017-02-28",
        "operation" : "PutItem",
        "key": {
            "id" : $util.dynamodb.toDynamoDBJson($util.autoId())
        },
        #set( $myFoo = $util.dynamodb.toMapValues($ctx.args) )
        #set( $myFoo.version = $util.dynamodb.toNumber(1) )
        #set( $myFoo.timestamp = $util.dynamodb.toString($util.time.nowISO8601()))
        "attributeValues" : $util.toJson($myFoo)
    }"""
    request = value(template, args(title="T", tags=["a"], meta={"n": 1.5}))
    assert re.fullmatch(UUID, request["key"]["id"]["S"])
    assert request["attributeValues"] == {
        "title": {"S": "T"},
        "tags": {"L": [{"S": "a"}]},
        "meta": {"M": {"n": {"N": 1.5}}},
        "version": {"N": 1},
        "timestamp": {"S": "2018-02-06T19:01:35.750Z"},
    }
    dynamodb.plan("things", request)


QUERY = """{
    "version" : "2017-02-28",
    "operation" : "Query",
    "query" : {
        "expression" : "ownerId = :ownerId",
        "expressionValues" : {
            ":ownerId" : $util.dynamodb.toDynamoDBJson($context.arguments.owner)
        }
    },
    "index" : "owner-index"
}"""


def test_query_example() -> None:
    request = value(QUERY, args(owner="nadia"))
    assert request == {
        "version": "2017-02-28",
        "operation": "Query",
        "query": {
            "expression": "ownerId = :ownerId",
            "expressionValues": {":ownerId": {"S": "nadia"}},
        },
        "index": "owner-index",
    }
    dynamodb.plan("posts", request)


UPVOTE = """{
    "version" : "2017-02-28",
    "operation" : "UpdateItem",
    "key" : {
        "id" : $util.dynamodb.toDynamoDBJson($ctx.args.id)
    },
    "update" : {
        "expression" : "ADD #votefield :plusOne, version :plusOne",
        "expressionNames" : {
            "#votefield" : "upvotes"
        },
        "expressionValues" : {
            ":plusOne" : { "N" : 1 }
        }
    }
}"""

UPDATE_ITEM = """{
    "version" : "2017-02-28",

    "operation" : "UpdateItem",

    "key" : {
        "id" : $util.dynamodb.toDynamoDBJson($ctx.args.id)
    },

    ## Set up some space to keep track of things we're updating **
    #set( $expNames  = {} )
    #set( $expValues = {} )
    #set( $expSet = {} )
    #set( $expAdd = {} )
    #set( $expRemove = [] )

    ## Increment "version" by 1 **
    $!{expAdd.put("version", ":newVersion")}
    $!{expValues.put(":newVersion", { "N" : 1 })}

    ## Iterate through each argument, skipping "id" and "expectedVersion" **
    #foreach( $entry in $context.arguments.entrySet() )
        #if( $entry.key != "id" && $entry.key != "expectedVersion" )
            #if( (!$entry.value) && ("$!{entry.value}" == "") )
                ## If the argument is set to "null", then remove that attribute from the item in DynamoDB **

                #set( $discard = ${expRemove.add("#${entry.key}")} )
                $!{expNames.put("#${entry.key}", "$entry.key")}
            #else
                ## Otherwise set (or update) the attribute on the item in DynamoDB **

                $!{expSet.put("#${entry.key}", ":${entry.key}")}
                $!{expNames.put("#${entry.key}", "$entry.key")}

                #if( $entry.key == "ups" || $entry.key == "downs" )
                    $!{expValues.put(":${entry.key}", { "N" : $entry.value })}
                #else
                    $!{expValues.put(":${entry.key}", { "S" : "${entry.value}" })}
                #end
            #end
        #end
    #end

    ## Start building the update expression, starting with attributes we're going to SET **
    #set( $expression = "" )
    #if( !${expSet.isEmpty()} )
        #set( $expression = "SET" )
        #foreach( $entry in $expSet.entrySet() )
            #set( $expression = "${expression} ${entry.key} = ${entry.value}" )
            #if ( $foreach.hasNext )
                #set( $expression = "${expression}," )
            #end
        #end
    #end

    ## Continue building the update expression, adding attributes we're going to ADD **
    #if( !${expAdd.isEmpty()} )
        #set( $expression = "${expression} ADD" )
        #foreach( $entry in $expAdd.entrySet() )
            #set( $expression = "${expression} ${entry.key} ${entry.value}" )
            #if ( $foreach.hasNext )
                #set( $expression = "${expression}," )
            #end
        #end
    #end

    ## Continue building the update expression, adding attributes we're going to REMOVE **
    #if( !${expRemove.isEmpty()} )
        #set( $expression = "${expression} REMOVE" )

        #foreach( $entry in $expRemove )
            #set( $expression = "${expression} ${entry}" )
            #if ( $foreach.hasNext )
                #set( $expression = "${expression}," )
            #end
        #end
    #end

    ## Finally, write the update expression into the document, along with any expressionNames and expressionValues **
    "update" : {
        "expression" : "${expression}"
        #if( !${expNames.isEmpty()} )
            ,"expressionNames" : $utils.toJson($expNames)
        #end
        #if( !${expValues.isEmpty()} )
            ,"expressionValues" : $utils.toJson($expValues)
        #end
    },

    "condition" : {
        "expression"       : "version = :expectedVersion",
        "expressionValues" : {
            ":expectedVersion" : $util.dynamodb.toDynamoDBJson($ctx.args.expectedVersion)
        }
    }
}"""  # noqa: E501 (the guide's template, as written)


def test_update_item_examples() -> None:
    assert value(UPVOTE, args(id="p1"))["update"]["expressionValues"] == {":plusOne": {"N": 1}}

    request = value(UPDATE_ITEM, args(id="p1", title="New", author=None, ups=5, expectedVersion=2))
    assert request == {
        "version": "2017-02-28",
        "operation": "UpdateItem",
        "key": {"id": {"S": "p1"}},
        "update": {
            "expression": "SET #title = :title, #ups = :ups ADD version :newVersion REMOVE #author",
            "expressionNames": {"#title": "title", "#ups": "ups", "#author": "author"},
            "expressionValues": {
                ":newVersion": {"N": 1},
                ":title": {"S": "New"},
                ":ups": {"N": 5},
            },
        },
        "condition": {
            "expression": "version = :expectedVersion",
            "expressionValues": {":expectedVersion": {"N": 2}},
        },
    }
    dynamodb.plan("posts", request)


def test_condition_from_a_filter_object_as_amplify_writes_it() -> None:
    # the request template Amplify generates for a create mutation with a condition
    template = """
#set( $condition = {
  "expression": "attribute_not_exists(#id)",
  "expressionNames": {
      "#id": "id"
  }
} )
#if( $context.args.condition )
  #set( $condition.expressionValues = {} )
  #set( $conditionFilterExpressions = $util.parseJson($util.transform.toDynamoDBConditionExpression($context.args.condition)) )
  $util.qr($condition.put("expression", "($condition.expression) AND $conditionFilterExpressions.expression"))
  $util.qr($condition.expressionNames.putAll($conditionFilterExpressions.expressionNames))
  $util.qr($condition.expressionValues.putAll($conditionFilterExpressions.expressionValues))
#end
#if( $condition.expressionValues && $condition.expressionValues.size() == 0 )
  #set( $condition = {
  "expression": $condition.expression,
  "expressionNames": $condition.expressionNames
} )
#end
{
  "version": "2017-02-28",
  "operation": "PutItem",
  "key": { "id": $util.dynamodb.toDynamoDBJson($ctx.args.input.id) },
  "attributeValues": $util.dynamodb.toMapValuesJson($context.args.input),
  "condition": $util.toJson($condition)
}"""  # noqa: E501 (Amplify's template, as generated)
    with_values = value(template, args(input={"id": "1"}, condition={"owner": {"eq": "me"}}))
    assert with_values["condition"] == {
        "expression": "(attribute_not_exists(#id)) AND (#owner = :owner_eq)",
        "expressionNames": {"#id": "id", "#owner": "owner"},
        "expressionValues": {":owner_eq": {"S": "me"}},
    }
    # an empty map is true in Velocity: the template drops expressionValues when it is empty
    without = value(
        template, args(input={"id": "1"}, condition={"owner": {"attributeExists": True}})
    )
    assert without["condition"] == {
        "expression": "(attribute_not_exists(#id)) AND (attribute_exists(#owner))",
        "expressionNames": {"#id": "id", "#owner": "owner"},
    }
    dynamodb.plan("things", without)


# ---- local (NONE), Lambda and pipeline resolvers ---------------------------------------------

PAGE = """{
    "version": "2017-02-28",
    "payload": {
        "body": $util.toJson($context.arguments.body),
        "from": $util.toJson($context.identity.username),
        "to":  $util.toJson($context.arguments.to),
        "sentAt": "$util.time.nowISO8601()"
    }
}"""

FORWARD = "$util.toJson($context.result)"


def test_local_resolver_example() -> None:
    ctx = {"arguments": {"body": "Hi", "to": "Nadia"}, "identity": {"username": "Shaggy"}}
    request = value(PAGE, ctx)
    assert request == {
        "version": "2017-02-28",
        "payload": {
            "body": "Hi",
            "from": "Shaggy",
            "to": "Nadia",
            "sentAt": "2018-02-06T19:01:35.750Z",
        },
    }
    # the NONE data source hands the payload to the response template
    answer = value(FORWARD, {**ctx, "result": request["payload"]}, which="response")
    assert answer == request["payload"]


def test_lambda_resolver_example() -> None:
    template = """{
    "version": "2017-02-28",
    "operation": "Invoke",
    "payload": {
        "field": "getPost",
        "arguments":  $utils.toJson($context.arguments)
    }
}"""
    assert value(template, args(id="6")) == {
        "version": "2017-02-28",
        "operation": "Invoke",
        "payload": {"field": "getPost", "arguments": {"id": "6"}},
    }
    post = {"id": "6", "title": "t", "ups": 3, "comments": [{"c": None}], "draft": False}
    assert value("$utils.toJson($context.result)", {"result": post}, which="response") == post


def test_lambda_error_rethrown_by_the_response_template() -> None:
    template = """#if($ctx.error)
    $util.error($ctx.error.message, $ctx.error.type)
#end
$util.toJson($ctx.result)"""
    failed = run(template, {"error": {"message": "boom", "type": "Lambda:Unhandled"}})
    assert failed.error == {
        "message": "boom",
        "errorType": "Lambda:Unhandled",
        "data": None,
        "errorInfo": None,
    }
    assert failed.value is None
    assert value(template, {"result": {"ok": 1}}, which="response") == {"ok": 1}


BEFORE = """## store email input field into a generic email key
$util.qr($ctx.stash.put("email", $ctx.args.input.email))
{}"""

VALIDATE_EMAIL = """#set($valid = $util.matches("^[a-zA-Z0-9_.+-]+@(?:(?:[a-zA-Z0-9-]+\\.)?[a-zA-Z]+\\.)?(myvaliddomain)\\.com", $ctx.stash.email))
#if (!$valid)
    $util.error("$ctx.stash.email is not a valid email.")
#end
{
    "payload": { "email": $util.toJson(${ctx.stash.email}) }
}"""  # noqa: E501 (the guide's template, as written)

SAVE_USER_REQUEST = """## $ctx.prev.result contains the signup input values. We could have also
## used $ctx.args.input.
{
    "payload": $util.toJson($ctx.prev.result)
}"""

SAVE_USER_RESPONSE = """## an id is required so let's add a unique random identifier to the output
$util.qr($ctx.result.put("id", $util.autoId()))
$util.toJson($ctx.result)"""


def sign_up(email: str) -> VtlOutcome:
    """The guide's pipeline (before, validateEmail, saveUser, after), run on NONE data
    sources as execute.py runs a pipeline: the stash carried along, each function's
    result in the next one's ``$ctx.prev.result``."""
    ctx: dict[str, Any] = args(input={"email": email, "username": "nadia"})
    before = run(BEFORE, ctx)
    ctx["stash"], prev = before.stash, before.value
    for request, response in ((VALIDATE_EMAIL, FORWARD), (SAVE_USER_REQUEST, SAVE_USER_RESPONSE)):
        asked = run(request, {**ctx, "prev": {"result": prev}})
        if asked.error is not None:
            return asked
        answered = run(response, {**ctx, "result": asked.value["payload"]}, which="response")
        ctx["stash"], prev = answered.stash, answered.value
    return run(FORWARD, {**ctx, "result": prev}, which="response")


def test_pipeline_tutorial() -> None:
    assert run(BEFORE, args(input={"email": "a@b.c"})).stash == {"email": "a@b.c"}

    done = sign_up("nadia@myvaliddomain.com")
    assert done.error is None
    assert done.value["email"] == "nadia@myvaliddomain.com"
    assert re.fullmatch(UUID, done.value["id"])
    assert done.stash == {"email": "nadia@myvaliddomain.com"}

    refused = sign_up("nadia@invalid.com")
    assert refused.error is not None
    assert refused.error["message"] == "nadia@invalid.com is not a valid email."
    assert refused.value is None


# ---- what a template does besides rendering -------------------------------------------------


def test_stash_changes_come_back() -> None:
    outcome = run(
        """$util.qr($ctx.stash.put("added", [1, 2]))
#set($ctx.stash.set = {"deep": true})
#set($ctx.stash.set.deeper = "x")
$util.qr($ctx.stash.remove("gone"))
{}""",
        {"stash": {"kept": 1, "gone": 2}},
    )
    assert outcome.stash == {"kept": 1, "added": [1, 2], "set": {"deep": True, "deeper": "x"}}
    assert outcome.value == {}
    assert run("{}").stash == {}


def test_error_stops_the_template_and_keeps_what_came_before() -> None:
    outcome = run(
        """$util.appendError("first", "Warning", {"at": 1}, {"hint": "x"})
$util.log.info("about to fail with {} and {}", $ctx.args.id, $ctx.args.missing)
$util.qr($ctx.stash.put("before", true))
$util.error("stopped", "Custom", {"id": $ctx.args.id})
$util.qr($ctx.stash.put("after", true))
$util.appendError("never")
{"not": "rendered"}""",
        args(id=7),
    )
    assert outcome.error == {
        "message": "stopped",
        "errorType": "Custom",
        "data": {"id": 7},
        "errorInfo": None,
    }
    assert outcome.errors == [
        {"message": "first", "errorType": "Warning", "data": {"at": 1}, "errorInfo": {"hint": "x"}}
    ]
    assert outcome.stash == {"before": True}
    assert outcome.logs == ["about to fail with 7 and null"]
    assert outcome.value is None
    assert not outcome.returned


def test_append_error_lets_the_template_go_on() -> None:
    outcome = run('$util.appendError("partial")\n$util.toJson({"ok": true})', which="response")
    assert outcome.value == {"ok": True}
    assert outcome.error is None
    assert outcome.errors == [
        {"message": "partial", "errorType": None, "data": None, "errorInfo": None}
    ]


def test_unauthorized_and_validate() -> None:
    info = {"info": {"fieldName": "getPost", "parentTypeName": "Query"}}
    assert run("$util.unauthorized()", info).error == {
        "message": "Not Authorized to access getPost on type Query",
        "errorType": "Unauthorized",
        "data": None,
        "errorInfo": None,
    }
    check = (
        '#set($ok = $ctx.args.n > 0)$util.validate($ok, "n must be positive")\n{"n": $ctx.args.n}'
    )
    assert value(check, args(n=3)) == {"n": 3}
    refused = run(check, args(n=0))
    assert refused.error is not None
    assert refused.error["message"] == "n must be positive"
    assert refused.error["errorType"] == "CustomTemplateException"
    typed = run('$util.validate(false, "no", "BadInput", {"f": 1})')
    assert typed.error is not None
    assert (typed.error["errorType"], typed.error["data"]) == ("BadInput", {"f": 1})


def test_return_ends_the_template() -> None:
    early = run(
        """#if($ctx.args.cached)
  #return($ctx.args.cached)
#end
{"operation": "GetItem"}""",
        args(cached={"id": "1", "tags": ["a"]}),
    )
    assert early.returned
    assert early.value == {"id": "1", "tags": ["a"]}

    assert value('#if($ctx.args.cached)#return($ctx.args.cached)#end{"operation": "GetItem"}') == {
        "operation": "GetItem"
    }

    bare = run('{"partial": #return\n}')
    assert (bare.returned, bare.value) == (True, None)

    in_loop = run("#foreach($i in [1, 2, 3])#if($i == 2)#return($i)#end#end{}")
    assert (in_loop.returned, in_loop.value) == (True, 2)

    with_stash = run('$util.qr($ctx.stash.put("k", 1))#return("text")')
    assert (with_stash.value, with_stash.stash) == ("text", {"k": 1})


def test_to_json_of_nested_values() -> None:
    source = {
        "s": 'quote " and é',
        "n": 1,
        "f": 2.5,
        "b": False,
        "z": None,
        "l": [1, "two", {"three": [3]}, None],
        "m": {"inner": {"deeper": True}},
    }
    assert value("$util.toJson($ctx.source)", {"source": source}) == source
    assert value("$util.toJson($ctx.source.m.keySet())", {"source": source}) == ["inner"]
    assert value("$util.toJson($ctx.source.missing)", {"source": source}) is None
    assert run("$util.toJson($ctx.source.s)", {"source": source}).value == 'quote " and é'
    built = '#set($m = {"a": [1, {"b": null}], "c": "d"})$util.toJson($m)'
    assert value(built) == {"a": [1, {"b": None}], "c": "d"}
    assert value("$util.toJson($util.parseJson('{\"x\": [1, 2]}').x)") == [1, 2]


def test_qr_and_quiet_drop_values() -> None:
    outcome = run(
        "#set($l = [])$util.qr($l.add(1))$util.quiet($l.add(2))"
        '$util.qr($ctx.stash.put("l", $l)){"size": $l.size()}'
    )
    assert outcome.value == {"size": 2}
    assert outcome.stash == {"l": [1, 2]}


def test_foreach_and_has_next() -> None:
    template = """[
#foreach($item in $ctx.result.items)
  {"id": "$item.id", "n": $velocityCount, "last": $foreach.last}#if($foreach.hasNext),#end
#end
]"""
    items = [{"id": "a"}, {"id": "b"}, {"id": "c"}]
    assert value(template, {"result": {"items": items}}, which="response") == [
        {"id": "a", "n": 1, "last": False},
        {"id": "b", "n": 2, "last": False},
        {"id": "c", "n": 3, "last": True},
    ]
    assert value(template, {"result": {"items": []}}, which="response") == []
    # a map is walked by its values, as Velocity 1.7 walks it
    values = '#set($n = 0)#foreach($v in $ctx.args)#set($n = $n + $v)#end{"sum": $n}'
    assert value(values, args(a=1, b=2)) == {"sum": 3}
    stop = "#foreach($i in [1, 2, 3, 4])#if($i == 3)#break#end$i#end"
    assert value(stop) == 12


def test_velocity_truth_arithmetic_and_equality() -> None:
    checks = """{
  "emptyString": #if("")true#{else}false#end,
  "zero": #if(0)true#{else}false#end,
  "emptyMap": #if({})true#{else}false#end,
  "null": #if($nothing)true#{else}false#end,
  "false": #if(false)true#{else}false#end,
  "notEmpty": #if(!"")true#{else}false#end,
  "and": #if("" && 0)true#{else}false#end,
  "joined": "#set($j = "n" + 1)$j",
  "quotient": #set($q = 7 / 2)$q,
  "negative": #set($q = -7 / 2)$q,
  "real": #set($q = 7.0 / 2)$q,
  "remainder": #set($r = -7 % 3)$r,
  "byZero": "#set($d = 1 / 0)$!d",
  "textEqual": #if(true == "true")true#{else}false#end,
  "numberEqual": #if(1 == 1.0)true#{else}false#end,
  "nullCompared": #if($ctx.args.limit > 10 || $ctx.args.limit <= 10)true#{else}false#end,
  "nullSum": "#set($s = $ctx.args.limit + 1)$!s",
  "textCompared": #if("b" > "a")true#{else}false#end
}"""
    assert value(checks) == {
        "emptyString": True,
        "zero": True,
        "emptyMap": True,
        "null": False,
        "false": False,
        "notEmpty": False,
        "and": True,
        "joined": "n1",
        "quotient": 3,
        "negative": -3,
        "real": 3.5,
        "remainder": -1,
        "byZero": "",
        "textEqual": True,
        "numberEqual": True,
        "nullCompared": False,
        "nullSum": "",
        "textCompared": False,
    }


def test_hash_before_a_reference_is_text() -> None:
    assert value('{"name": "#${ctx.args.key}", "plain": "#$ctx.args.key"}', args(key="title")) == {
        "name": "#title",
        "plain": "#title",
    }


def test_context_aliases_and_fields() -> None:
    ctx = {
        "arguments": {"id": "1"},
        "identity": {"sub": "u-1", "claims": {"email": "a@b.c"}},
        "source": {"parentId": "p"},
        "prev": {"result": {"from": "before"}},
        "request": {"headers": {"x-api-key": "k"}},
        "info": {
            "fieldName": "getPost",
            "parentTypeName": "Query",
            "variables": {"v": 1},
            "selectionSetList": ["id", "title"],
            "selectionSetGraphQL": "{ id title }",
        },
        "env": {"STAGE": "dev"},
    }
    template = """{
  "same": #if($context.args == $ctx.arguments)true#{else}false#end,
  "id": "$ctx.args.id",
  "sub": "$context.identity.sub",
  "email": "$ctx.identity.claims.get('email')",
  "parent": "$ctx.source.parentId",
  "prev": "$ctx.prev.result.from",
  "key": "$ctx.request.headers.get('x-api-key')",
  "field": "$ctx.info.parentTypeName.$ctx.info.fieldName",
  "selected": $util.toJson($ctx.info.selectionSetList),
  "gql": "$ctx.info.selectionSetGraphQL",
  "stage": "$ctx.env.STAGE",
  "missing": "$ctx.result"
}"""
    assert value(template, ctx) == {
        "same": True,
        "id": "1",
        "sub": "u-1",
        "email": "a@b.c",
        "parent": "p",
        "prev": "before",
        "key": "k",
        "field": "Query.getPost",
        "selected": ["id", "title"],
        "gql": "{ id title }",
        "stage": "dev",
        "missing": "",
    }
    # $ctx.args is $ctx.arguments itself
    changed = '$util.qr($ctx.args.put("added", 1))$util.toJson($context.arguments)'
    assert value(changed, args(id="1")) == {"id": "1", "added": 1}


def test_output_edges() -> None:
    assert run("  \n## only a comment\n  ").value is None
    assert value('{"a": [1, 2, ], "b": {"c": 1,\n},\n}') == {"a": [1, 2], "b": {"c": 1}}
    assert value('{"comma": "a, ]"}') == {"comma": "a, ]"}
    assert value("$util.toJson($ctx.args.n)", args(n=5)) == 5


# ---- errors that say where --------------------------------------------------------------------


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(VtlError) as caught:
        run('{\n  "a": 1,\n  #set($x = )\n}', which="response")
    error = caught.value
    assert (error.which, error.line, error.column) == ("response", 3, 13)
    assert error.error_type == "MappingTemplate"
    message = str(error)
    assert message.startswith("the response mapping template does not parse at line 3, column 13")
    assert "expected expression" in message
    assert "#set($x = )" in message


def test_rendered_text_that_is_not_json() -> None:
    with pytest.raises(VtlError) as caught:
        run('{\n  "name": $ctx.result.name\n}', {"result": {"name": "Nadia"}}, which="response")
    error = caught.value
    assert (error.line, error.column) == (2, 11)
    assert error.rendered == '{\n  "name": Nadia\n}'
    assert "the response mapping template rendered text that is not JSON" in str(error)
    assert "Nadia" in str(error)
    with pytest.raises(VtlError, match="request mapping template rendered text that is not"):
        run('{"a": 1} {"b": 2}')


def test_failure_while_rendering_names_the_text() -> None:
    with pytest.raises(VtlError) as caught:
        run('{\n  "v": $util.parseJson($ctx.args.raw)\n}', args(raw="{nope"))
    error = caught.value
    assert (error.line, error.column) == (2, 8)
    assert "$util.parseJson($ctx.args.raw)" in str(error)
    assert "not JSON" in str(error)
    with pytest.raises(VtlError, match=r"toStringSet: 1 is no string"):
        run("$util.dynamodb.toStringSetJson([1])")
    with pytest.raises(ValueError, match="which must be"):
        render("{}", {}, which="before")


def test_api_gateway_templates_are_unaffected() -> None:
    # the hooks apply only to AppSync templates, however the two are interleaved
    text = '#if("")yes#{else}no#end #return($x) #$x'
    run("{}")
    given = mapping_templates.TemplateInput(body="", path={}, querystring={}, header={}, context={})
    with pytest.raises(mapping_templates.MappingTemplateError, match="no such macro: return"):
        mapping_templates.render(text, given)
    plain = mapping_templates.render('#if("")yes#{else}no#end #$x', given)
    assert plain.text == "no #$x"


# ---- $util --------------------------------------------------------------------------------------


def test_null_and_type_checks() -> None:
    template = """[
  $util.isNull($x), $util.isNull(""),
  $util.isNullOrEmpty(""), $util.isNullOrEmpty(" "), $util.isNullOrEmpty($ctx.args.l),
  $util.isNullOrBlank(" \t"), $util.isNullOrBlank("a"),
  "$util.defaultIfNull($x, "d")", "$util.defaultIfNullOrEmpty("", "e")",
  "$util.defaultIfNullOrBlank(" ", "b")", "$util.defaultIfNullOrBlank("v", "b")",
  $util.isString("s"), $util.isNumber(1.5), $util.isNumber(true), $util.isBoolean(false),
  $util.isList($ctx.args.l), $util.isMap($ctx.args), $util.isMap($ctx.args.l),
  "$util.typeOf($x)", "$util.typeOf(1)", "$util.typeOf('s')", "$util.typeOf($ctx.args)",
  "$util.typeOf($ctx.args.l)", "$util.typeOf(true)",
  $util.matches("a*b", "aaaab"), $util.matches("a", "ab"), $util.matches("\\p{L}+", "été")
]"""
    assert value(template, args(l=[])) == [
        True, False,
        True, False, True,
        True, False,
        "d", "e",
        "b", "v",
        True, True, False, True,
        True, True, False,
        "Null", "Number", "String", "Map",
        "List", "Boolean",
        True, False, True,
    ]  # fmt: skip


def test_encoding_ids_and_auth_type() -> None:
    template = """[
  "$util.urlEncode('a b&c=d/é')", "$util.urlDecode('a+b%26c')", "$util.base64Encode('héllo')",
  "$util.base64Decode('aMOpbGxv')", $util.toJson($util.escapeJavaScript($ctx.args.js)),
  "$util.autoId()", "$util.autoUlid()", "$util.autoKsuid()", "$util.authType()"
]"""
    got = value(template, args(js='it\'s "q"\n'))
    assert got[:5] == ["a+b%26c%3Dd%2F%C3%A9", "a b&c", "aMOpbGxv", "héllo", 'it\\\'s \\"q\\"\\n']
    assert re.fullmatch(UUID, got[5])
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", got[6])
    crockford, n, stamp = "0123456789ABCDEFGHJKMNPQRSTVWXYZ", NOW, ""
    for _ in range(10):
        stamp, n = crockford[n % 32] + stamp, n // 32
    assert got[6][:10] == stamp  # the ULID's time is the render's
    assert re.fullmatch(r"[0-9A-Za-z]{27}", got[7])
    assert got[8] == "API Key Authorization"
    kinds: dict[str, dict[str, Any]] = {
        "User Pool Authorization": {"identity": {"sub": "s", "username": "u"}},
        "IAM Authorization": {"identity": {"accountId": "1", "userArn": "arn"}},
        "Lambda Authorization": {"identity": {"resolverContext": {}}},
        "Open ID Connect Authorization": {"identity": {"sub": "s", "issuer": "i"}},
    }
    for described, ctx in kinds.items():
        assert value('"$util.authType()"', ctx) == described
    given = value('"$util.authType()"', {}, auth_type="AWS_IAM")
    assert given == "IAM Authorization"


def test_logs() -> None:
    outcome = run(
        '$util.log.info($ctx.args)$util.log.error("n={}", 1)$util.log.debug("{} {}", "a"){}',
        args(k="v"),
    )
    assert outcome.logs == ["{k=v}", "n=1", "a {}"]


def test_time_examples() -> None:
    fmt = "yyyy-MM-dd HH:mm:ssZ"
    template = f"""[
  "$util.time.nowISO8601()", $util.time.nowEpochSeconds(), $util.time.nowEpochMilliSeconds(),
  "$util.time.nowFormatted('{fmt}')", "$util.time.nowFormatted('{fmt}', '+08:00')",
  "$util.time.nowFormatted('{fmt}', 'Australia/Perth')",
  #set( $nowEpochMillis = 1517943695758 )
  $util.time.epochMilliSecondsToSeconds($nowEpochMillis),
  "$util.time.epochMilliSecondsToISO8601($nowEpochMillis)",
  "$util.time.epochMilliSecondsToFormatted($nowEpochMillis, '{fmt}')",
  "$util.time.epochMilliSecondsToFormatted($nowEpochMillis, '{fmt}', '+08:00')",
  $util.time.parseISO8601ToEpochMilliSeconds("2018-02-01T17:21:05.180+08:00"),
  $util.time.parseFormattedToEpochMilliSeconds("2018-02-02 01:19:22+0800", "{fmt}"),
  $util.time.parseFormattedToEpochMilliSeconds("2018-02-02 01:19:22", "yyyy-MM-dd HH:mm:ss",
    "+08:00"),
  $util.time.parseFormattedToEpochMilliSeconds("06 Feb 2018 2:01 PM", "dd MMM yyyy h:mm a",
    "America/New_York"),
  "$util.time.nowFormatted("EEEE d MMMM yyyy, hh:mm:ss.SSS a z", "Europe/Paris")"
]"""
    assert value(template) == [
        "2018-02-06T19:01:35.750Z",
        1517943695,
        NOW,
        "2018-02-06 19:01:35+0000",
        "2018-02-07 03:01:35+0800",
        "2018-02-07 03:01:35+0800",
        1517943695,
        "2018-02-06T19:01:35.758Z",
        "2018-02-06 19:01:35+0000",
        "2018-02-07 03:01:35+0800",
        1517476865180,
        1517505562000,
        1517505562000,
        1517943660000,
        "Tuesday 6 February 2018, 08:01:35.750 PM CET",
    ]
    # the guide's formats for AWSDate and AWSDateTime, at 2018-07-11T15:14:15-07:00:30
    july = int(datetime(2018, 7, 11, 22, 14, 45, tzinfo=UTC).timestamp() * 1000)
    scalars = """["$util.time.nowFormatted("yyyy-MM-dd[XXX]", "-07:00:30")",
  "$util.time.nowFormatted("yyyy-MM-dd'T'HH:mm:ss[XXXXX]", "-07:00:30")"]"""
    assert value(scalars, now_ms=july) == ["2018-07-11-07:00", "2018-07-11T15:14:15-07:00:30"]
    with pytest.raises(VtlError, match="unknown time zone 'Mars/Olympus'"):
        run('"$util.time.nowFormatted("yyyy", "Mars/Olympus")"')
    with pytest.raises(VtlError, match="has no time zone"):
        run('$util.time.parseFormattedToEpochMilliSeconds("2018-02-02", "yyyy-MM-dd")')


def test_dynamodb_examples() -> None:
    template = """[
  $util.dynamodb.toDynamoDBJson("foo"), $util.dynamodb.toDynamoDBJson(12345),
  $util.dynamodb.toDynamoDBJson(true),
  $util.dynamodb.toDynamoDBJson([ "foo", 123, { "bar" : "baz" } ]),
  $util.dynamodb.toDynamoDBJson({ "foo": "bar", "baz" : 1234, "beep": [ "boop"] }),
  $util.dynamodb.toStringJson("foo"), $util.dynamodb.toStringSetJson([ "foo", "bar", "baz" ]),
  $util.dynamodb.toNumberJson(12345), $util.dynamodb.toNumberSetJson([ 1, 23, 4.56 ]),
  $util.dynamodb.toBinaryJson("foo"), $util.dynamodb.toBinarySetJson([ "foo", "bar", "baz" ]),
  $util.dynamodb.toBooleanJson(true), $util.dynamodb.toNullJson(),
  $util.dynamodb.toListJson([ "foo", 123, { "bar" : "baz" } ]),
  $util.dynamodb.toMapJson({ "foo": "bar", "baz" : 1234, "beep": [ "boop"] }),
  $util.dynamodb.toMapValuesJson({ "foo": "bar", "baz" : 1234, "beep": [ "boop"] }),
  $util.toJson($util.dynamodb.toMap({ "a": 1 }).get("M")),
  $util.dynamodb.toStringJson($x)
]"""
    mapped = {"foo": {"S": "bar"}, "baz": {"N": 1234}, "beep": {"L": [{"S": "boop"}]}}
    listed = {"L": [{"S": "foo"}, {"N": 123}, {"M": {"bar": {"S": "baz"}}}]}
    assert value(template) == [
        {"S": "foo"},
        {"N": 12345},
        {"BOOL": True},
        listed,
        {"M": mapped},
        {"S": "foo"},
        {"SS": ["foo", "bar", "baz"]},
        {"N": 12345},
        {"NS": [1, 23, 4.56]},
        {"B": "foo"},
        {"BS": ["foo", "bar", "baz"]},
        {"BOOL": True},
        {"NULL": None},
        listed,
        {"M": mapped},
        mapped,
        {"a": {"N": 1}},
        None,
    ]
    s3 = value('$util.dynamodb.toS3ObjectJson("foo", "bar", "baz", "beep")')
    assert list(s3) == ["S"]
    assert value("$util.toJson($util.parseJson($ctx.args.s))", args(s=s3["S"])) == {
        "s3": {"key": "foo", "bucket": "bar", "region": "baz", "version": "beep"}
    }
    assert value(
        "$util.toJson($util.dynamodb.fromS3ObjectJson($util.dynamodb.toS3Object('foo', 'bar',"
        " 'baz', 'beep')))"
    ) == {"key": "foo", "bucket": "bar", "region": "baz", "version": "beep"}
    assert value(
        "$util.toJson($util.dynamodb.fromS3ObjectJson($ctx.args.s))",
        args(s='{"s3":{"key":"k","bucket":"b","region":"r"}}'),
    ) == {"key": "k", "bucket": "b", "region": "r"}


# the inputs and answers of the APPSYNC_JS tests, recorded from AppSync's EvaluateCode
FILTERS: list[tuple[Any, dict[str, Any] | None]] = [
    (
        {"title": {"contains": "Hello World"}},
        {
            "expression": "(contains(#title,:title_contains))",
            "expressionNames": {"#title": "title"},
            "expressionValues": {":title_contains": {"S": "Hello World"}},
        },
    ),
    (
        {"or": [{"and": [{"a": {"eq": 1}}, {"b": {"lt": 2}}]}, {"c": {"gt": 3}}]},
        {
            "expression": "(((#a = :or_0_and_0_a_eq) AND (#b < :or_0_and_1_b_lt)) OR "
            "(#c > :or_1_c_gt))",
            "expressionNames": {"#a": "a", "#b": "b", "#c": "c"},
            "expressionValues": {
                ":or_0_and_0_a_eq": {"N": 1},
                ":or_0_and_1_b_lt": {"N": 2},
                ":or_1_c_gt": {"N": 3},
            },
        },
    ),
    (
        {"not": {"id": {"between": ["1", "9"]}}},
        {
            "expression": "(NOT (#id BETWEEN :not_id_between_start AND :not_id_between_end))",
            "expressionNames": {"#id": "id"},
            "expressionValues": {
                ":not_id_between_start": {"S": "1"},
                ":not_id_between_end": {"S": "9"},
            },
        },
    ),
    (
        {"v": {"in": ["a", "b"]}, "w": {"notContains": "x"}, "u": {"beginsWith": "p"}},
        {
            "expression": "(#v IN (:v_in_0, :v_in_1)) AND (NOT contains(#w,:w_notContains)) "
            "AND (begins_with(#u,:u_beginsWith))",
            "expressionNames": {"#v": "v", "#w": "w", "#u": "u"},
            "expressionValues": {
                ":v_in_0": {"S": "a"},
                ":v_in_1": {"S": "b"},
                ":w_notContains": {"S": "x"},
                ":u_beginsWith": {"S": "p"},
            },
        },
    ),
    (
        {
            "a": {"attributeExists": False},
            "b": {"attributeType": "stringSet"},
            "c": {"size": {"gt": 2, "lt": 5}},
        },
        {
            "expression": "(attribute_not_exists(#a)) AND (attribute_type(#b,:b_attributeType))"
            " AND ((size(#c) > :c_size_gt) AND (size(#c) < :c_size_lt))",
            "expressionNames": {"#a": "a", "#b": "b", "#c": "c"},
            "expressionValues": {
                ":b_attributeType": {"S": "SS"},
                ":c_size_gt": {"N": 2},
                ":c_size_lt": {"N": 5},
            },
        },
    ),
    ({"v": {"foo": 1}}, None),
    ({"v": "x"}, None),
    ({"and": {"a": {"eq": 1}}}, None),
    ({"v": {"attributeType": "S"}}, None),
    (None, None),
]


@pytest.mark.parametrize(("filter_", "expected"), FILTERS)
def test_filter_expressions(filter_: Any, expected: dict[str, Any] | None) -> None:
    # as Amplify reads it (JSON text), as the guide's reference reads it (a map)
    template = """{
  "direct": $util.toJson($util.transform.toDynamoDBConditionExpression($ctx.args.f)),
  #if($util.transform.toDynamoDBFilterExpression($ctx.args.f))
  "parsed": $util.toJson($util.parseJson($util.transform.toDynamoDBFilterExpression($ctx.args.f))),
  #set($f = $util.transform.toDynamoDBFilterExpression($ctx.args.f))
  "fields": [$util.toJson($f.expression), $util.toJson($f.get("expressionNames"))],
  #end
  "text": "$util.escapeJavaScript($util.transform.toDynamoDBFilterExpression($ctx.args.f))"
}"""
    got = value(template, args(f=filter_))
    if expected is None:
        assert got == {"direct": None, "text": ""}
        return
    assert got["parsed"] == expected
    assert got["direct"] == expected
    assert got["fields"] == [expected["expression"], expected["expressionNames"]]
    assert json.loads(got["text"]) == expected


def test_list_map_str_and_math_helpers() -> None:
    template = """[
  $util.toJson($util.list.sortList([{"description":"youngest", "age":5},
    {"description":"middle", "age":45}, {"description":"oldest", "age":85}], false,
    "description")),
  $util.toJson($util.list.sortList([3, 1, 2], true, "any")),
  $util.toJson($util.list.sortList([3, "a"], false, "any")),
  $util.toJson($util.list.copyAndRetainAll([1, 2, 3, 4], [2, 4, 6])),
  $util.toJson($util.list.copyAndRemoveAll([1, 2, 3, 4], [2, 4, 6])),
  $util.toJson($util.map.copyAndRetainAllKeys({"a": 1, "b": 2, "c": 3}, ["a", "c", "z"])),
  $util.toJson($util.map.copyAndRemoveAllKeys({"a": 1, "b": 2, "c": 3}, ["a", "c", "z"])),
  "$util.str.toUpper('hello')", "$util.str.toLower('HeLLo')",
  "$util.str.toReplace('hello world', 'hello', 'mellow')",
  "$util.str.normalize($ctx.args.decomposed, 'nfc')",
  $util.math.roundNum(2.5), $util.math.roundNum(-2.5), $util.math.minVal(1, 3),
  $util.math.maxVal(1, 3.5)
]"""
    got = value(template, args(decomposed="e\u0301"))
    assert got == [
        [
            {"description": "middle", "age": 45},
            {"description": "oldest", "age": 85},
            {"description": "youngest", "age": 5},
        ],
        [3, 2, 1],
        [3, "a"],
        [2, 4],
        [1, 3],
        {"a": 1, "c": 3},
        {"b": 2},
        "HELLO",
        "hello",
        "mellow world",
        "é",
        3,
        -2,
        1.0,
        3.5,
    ]
    randoms = value("[$util.math.randomDouble(), $util.math.randomWithinRange(5, 8)]")
    assert 0 <= randoms[0] < 1
    assert 5 <= randoms[1] < 8
