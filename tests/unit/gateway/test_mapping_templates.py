"""API Gateway mapping templates rendered for real (airspeed + jsonpath-ng), no mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canaria.gateway.mapping_templates import (
    MappingTemplateError,
    Rendered,
    TemplateInput,
    render,
)

CONTEXT: dict[str, Any] = {
    "stage": "prod",
    "requestId": "abcdefg-000-000-0000-abcdefg",
    "apiId": "abcd1234",
    "resourcePath": "/",
    "resourceId": "efg567",
    "httpMethod": "GET",
    "identity": {
        "sourceIp": "192.0.2.1",
        "userAgent": "curl/7.84.0",
        "accountId": "111122223333",
        "apiKey": "MyTestKey",
        "caller": "ABCD-0000-12345",
        "user": "ABCD-0000-12345",
        "userArn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar",
    },
    "authorizer": {"principalId": "user-1"},
}


def given(
    body: str = "",
    *,
    path: dict[str, str] | None = None,
    querystring: dict[str, str] | None = None,
    header: dict[str, str] | None = None,
    context: dict[str, Any] | None = None,
    stage_variables: dict[str, str] | None = None,
) -> TemplateInput:
    return TemplateInput(
        body=body,
        path=path or {},
        querystring=querystring or {},
        header=header or {},
        context=CONTEXT if context is None else context,
        stage_variables=stage_variables or {},
    )


def text(template: str, inp: TemplateInput | None = None) -> str:
    return render(template, inp or given()).text


# --------------------------------------------------------------------------- AWS's examples


def test_aws_example_context_variables() -> None:
    template = """{
    "stage" : "$context.stage",
    "request_id" : "$context.requestId",
    "api_id" : "$context.apiId",
    "resource_path" : "$context.resourcePath",
    "resource_id" : "$context.resourceId",
    "http_method" : "$context.httpMethod",
    "source_ip" : "$context.identity.sourceIp",
    "user-agent" : "$context.identity.userAgent",
    "account_id" : "$context.identity.accountId",
    "api_key" : "$context.identity.apiKey",
    "caller" : "$context.identity.caller",
    "user" : "$context.identity.user",
    "user_arn" : "$context.identity.userArn"
}"""
    assert json.loads(text(template)) == {
        "stage": "prod",
        "request_id": "abcdefg-000-000-0000-abcdefg",
        "api_id": "abcd1234",
        "resource_path": "/",
        "resource_id": "efg567",
        "http_method": "GET",
        "source_ip": "192.0.2.1",
        "user-agent": "curl/7.84.0",
        "account_id": "111122223333",
        "api_key": "MyTestKey",
        "caller": "ABCD-0000-12345",
        "user": "ABCD-0000-12345",
        "user_arn": "arn:aws:sts::111122223333:assumed-role/Admin/carlos-salazar",
    }


def test_aws_example_all_params_foreach() -> None:
    template = """#set($allParams = $input.params())
{
  "params" : {
    #foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
    "$type" : {
      #foreach($paramName in $params.keySet())
      "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
      #if($foreach.hasNext),#end
      #end
    }
    #if($foreach.hasNext),#end
    #end
  }
}"""
    inp = given(
        path={"petId": "5"},
        querystring={"q": 'say "hi"', "page": "2"},
        header={"X-Amz-Date": "20240101"},
    )
    assert json.loads(text(template, inp)) == {
        "params": {
            "path": {"petId": "5"},
            "querystring": {"q": 'say "hi"', "page": "2"},
            "header": {"X-Amz-Date": "20240101"},
        }
    }


def test_aws_example_part_of_request() -> None:
    template = """{
    "id" : "$input.params('id')",
    "count" : "$input.path('$.things').size()",
    "things" : $input.json('$.things')
}"""
    inp = given('{"things": {"1": {}, "2": {}, "3": {}}}', path={"id": "123"})
    assert json.loads(text(template, inp)) == {
        "id": "123",
        "count": "3",
        "things": {"1": {}, "2": {}, "3": {}},
    }


def test_aws_example_name_and_body() -> None:
    template = '{\n  "name" : "$input.path(\'$.name\')",\n  "body" : $input.json(\'$\')\n}'
    body = '{"name": "Kim", "pets": [1, 2]}'
    assert json.loads(text(template, given(body))) == {
        "name": "Kim",
        "body": {"name": "Kim", "pets": [1, 2]},
    }


def test_aws_petstore_output_template() -> None:
    template = """#set($inputRoot = $input.path('$'))
[
#foreach($elem in $inputRoot)
  {
    "description" : "Item $elem.id is a $elem.type.",
    "askingPrice" : $elem.price
  }#if($foreach.hasNext),#end

#end
]"""
    body = json.dumps(
        [
            {"id": 1, "type": "dog", "price": 249.99},
            {"id": 2, "type": "cat", "price": 124.99},
        ]
    )
    assert json.loads(text(template, given(body))) == [
        {"description": "Item 1 is a dog.", "askingPrice": 249.99},
        {"description": "Item 2 is a cat.", "askingPrice": 124.99},
    ]


def test_aws_parse_json_example() -> None:
    body = json.dumps({"errorMessage": '{"key1":"var1","key2":{"arr":[1,2,3]}}'})
    template = """#set ($errorMessageObj = $util.parseJson($input.path('$.errorMessage')))
{
   "errorMessageObjKey2ArrVal" : $errorMessageObj.key2.arr[0]
}"""
    assert json.loads(text(template, given(body))) == {"errorMessageObjKey2ArrVal": 1}


def test_aws_override_example() -> None:
    template = """#set($inputRoot = $input.path('$'))
$input.json("$")
#set($context.responseOverride.header.Foo = "bar")
#if($inputRoot.toString().contains("error"))
#set($context.responseOverride.status = 400)
#end"""
    failed = render(template, given('{"status": "error"}'))
    assert failed.status == 400
    assert failed.headers == {"Foo": "bar"}
    assert json.loads(failed.text) == {"status": "error"}
    ok = render(template, given('{"status": "fine"}'))
    assert ok.status is None
    assert ok.headers == {"Foo": "bar"}


# --------------------------------------------------------------------------- $input


def test_input_body_is_raw_text_and_empty_is_braces() -> None:
    assert text("$input.body", given('{ "a" : 1 }')) == '{ "a" : 1 }'
    assert text("$input.body", given("a=1&b=2")) == "a=1&b=2"
    assert text("$input.body", given("")) == "{}"


def test_input_json_renders_compact_json() -> None:
    inp = given('{"a": 1, "s": "x", "l": [true, null], "o": {"k": "v"}}')
    assert text("$input.json('$.a')", inp) == "1"
    assert text("$input.json('$.s')", inp) == '"x"'
    assert text("$input.json('$.l')", inp) == "[true,null]"
    assert text("$input.json('$.o')", inp) == '{"k":"v"}'
    assert text("$input.json('$.missing')", inp) == ""


def test_input_json_of_empty_body_is_empty_object() -> None:
    assert text("$input.json('$')", given("")) == "{}"
    assert text("$input.path('$').size()", given("")) == "0"


def test_input_path_walks_maps_lists_and_strings() -> None:
    inp = given('{"user": {"name": "Ana Lima", "tags": ["a", "b"]}, "flag": true, "n": 1.5}')
    template = (
        "$input.path('$.user').keySet().size()|$input.path('$.user').get('name')|"
        "$input.path('$.user.name').length()|$input.path('$.user.tags').size()|"
        "#foreach($t in $input.path('$.user.tags'))$t;#end|"
        "$input.path('$.flag')|$input.path('$.n')|$input.path('$.user.tags[1]')"
    )
    assert text(template, inp) == "2|Ana Lima|8|2|a;b;|true|1.5|b"


def test_input_path_prints_maps_java_style_and_lists_as_json() -> None:
    inp = given('{"a": 1, "b": [{"c": 5}], "d": {"e": "x", "f": null}}')
    assert text("$input.path('$')", inp) == '{a=1, b=[{"c":5}], d={e=x, f=null}}'
    assert text("$input.path('$.b')", inp) == '[{"c":5}]'


def test_input_path_wildcards_and_filters_give_lists() -> None:
    inp = given('{"items": [{"id": 1, "ok": true}, {"id": 2, "ok": false}]}')
    assert text("$input.path('$.items[*].id')", inp) == "[1,2]"
    assert text("$input.json('$.items[?(@.ok == true)].id')", inp) == "[1]"


def test_input_params_by_name_path_then_query_then_header() -> None:
    inp = given(
        path={"id": "from-path"},
        querystring={"id": "from-query", "q": "query"},
        header={"id": "from-header", "X-Trace": "t-1"},
    )
    assert text("$input.params('id')", inp) == "from-path"
    assert text("$input.params('q')", inp) == "query"
    assert text("$input.params('X-Trace')|$input.params('x-trace')", inp) == "t-1|t-1"
    assert text("[$input.params('nope')]", inp) == "[]"
    assert text("$input.params().querystring.get('q')", inp) == "query"


def test_non_json_body() -> None:
    inp = given("a=1&b=hello%20world")
    template = (
        "#foreach($pair in $input.path('$').split('&'))"
        "#set($kv = $pair.split('='))$kv[0]:$util.urlDecode($kv[1])#if($foreach.hasNext),#end"
        "#end"
    )
    assert text(template, inp) == "a:1,b:hello world"
    assert text("[$input.path('$.a')]", inp) == "[]"
    assert text("$input.json('$')", inp) == '"a=1&b=hello%20world"'


# --------------------------------------------------------------------------- $util


def test_escape_javascript_quotes_newlines_and_unicode() -> None:
    inp = given(json.dumps({"s": 'He said "it\'s"\nnew\tline / \\ é'}))
    assert (
        text("$util.escapeJavaScript($input.path('$.s'))", inp)
        == 'He said \\"it\\\'s\\"\\nnew\\tline \\/ \\\\ \\u00E9'
    )


def test_escape_javascript_then_unescape_single_quotes_as_aws_documents() -> None:
    inp = given(json.dumps({"s": "it's"}))
    template = """"$util.escapeJavaScript($input.path('$.s')).replaceAll("\\\\'","'")\""""
    assert text(template, inp) == '"it\'s"'


def test_url_and_base64() -> None:
    inp = given(json.dumps({"s": "a b&c=d/é~*"}))
    assert text("$util.urlEncode($input.path('$.s'))", inp) == "a+b%26c%3Dd%2F%C3%A9%7E*"
    assert text("$util.urlDecode('a+b%26c')", inp) == "a b&c"
    assert text("$util.base64Encode('hello é')", inp) == "aGVsbG8gw6k="
    assert text("$util.base64Decode('aGVsbG8gw6k=')", inp) == "hello é"


def test_parse_json_gives_walkable_objects() -> None:
    inp = given(json.dumps({"raw": '{"a": {"b": [10, 20]}, "n": "x"}'}))
    template = "#set($o = $util.parseJson($input.path('$.raw')))$o.a.b.size() $o.a.b[1] $o.n"
    assert text(template, inp) == "2 20 x"


# ------------------------------------------------------------------- $context, $stageVariables


def test_context_and_stage_variables() -> None:
    inp = given(stage_variables={"env": "dev", "url": "https://x"})
    template = "$context.authorizer.principalId $stageVariables.env $stageVariables.url"
    assert text(template, inp) == "user-1 dev https://x"


def test_null_references_render_empty_like_api_gateway() -> None:
    assert text("[$context.nope][$context.identity.nope][$nothing][$!nothing]") == "[][][][]"
    assert text("[${nothing}][$!{nothing}][${nothing|'dflt'}]") == "[][][dflt]"


def test_request_overrides_are_collected() -> None:
    template = """#set($context.requestOverride.header.header1 = $input.params('h'))
#set($context.requestOverride.querystring.page = "2")
#set($context.requestOverride.path.petId = $input.path('$.id'))
done"""
    out = render(template, given('{"id": 7}', header={"h": "v"}))
    assert isinstance(out, Rendered)
    assert out.request_headers == {"header1": "v"}
    assert out.request_querystring == {"page": "2"}
    assert out.request_path == {"petId": "7"}
    assert out.text == "done"
    assert out.status is None
    assert out.headers == {}


def test_response_status_only_when_an_int_in_range() -> None:
    assert render("#set($context.responseOverride.status = 201)", given()).status == 201
    assert render("#set($context.responseOverride.status = 42)", given()).status is None
    assert render("#set($context.responseOverride.status = '400')", given()).status is None
    assert render("nothing", given()).status is None


# --------------------------------------------------------------------------- Velocity


def test_directives_set_if_foreach_break_comments_macros() -> None:
    template = """## a line comment
#* a block
   comment *#
#macro(greet $who)Hi $who!#end
#set($n = 3)
#if($n > 5)big#elseif($n == 3)three#{else}small#end
#foreach($i in [1, 2, 3, 4])$velocityCount:$foreach.index#if($i == 3)#break#end #end
#greet('Bo')"""
    # a line ending in #end loses its newline (Velocity does the same)
    assert text(template) == "three1:0 2:1 3:2Hi Bo!"


def test_java_string_methods() -> None:
    inp = given(json.dumps({"s": "  Hello, World  ", "csv": "a, b,,c,,"}))
    template = (
        "#set($s = $input.path('$.s').trim())"
        "$s.toLowerCase()|$s.toUpperCase()|$s.length()|$s.substring(0, 5)|$s.substring(7)|"
        "$s.contains('World')|$s.equals('Hello, World')|$s.isEmpty()|$s.indexOf('o')|"
        "$s.replaceAll('o', '0')|$s.startsWith('Hell')|$s.endsWith('!')|"
        "$input.path('$.csv').split(',\\s*').size()"
    )
    assert text(template, inp) == (
        "hello, world|HELLO, WORLD|12|Hello|World|true|true|false|4|Hell0, W0rld|true|false|4"
    )


def test_java_methods_on_template_literals() -> None:
    template = (
        "#set($l = [])#set($m = {})#set($x = $l.add('a'))#set($x = $m.put('k', 'v'))"
        "$l.size() $l.isEmpty() $l.contains('a') $l.get(0) "
        "$m.size() $m.isEmpty() $m.containsKey('k') $m.get('k') $m "
        "#set($w = 'Word')$w.toLowerCase() $w.equals('Word')"
    )
    assert text(template) == "1 false true a 1 false true v {k=v} word true"


# --------------------------------------------------------------------------- errors, caching


def test_unclosed_if_is_an_error_with_line_and_column() -> None:
    with pytest.raises(MappingTemplateError) as caught:
        render('{\n  #if($input.params("a") == "b")\n  "x": 1\n}\n', given())
    error = caught.value
    assert error.http_status == 500
    assert error.line == 5
    assert "line 5" in error.message
    assert "#end" in error.message


def test_bad_syntax_is_an_error() -> None:
    with pytest.raises(MappingTemplateError, match=r"line 2, column \d+: expected"):
        render("ok\n#set($x = )", given())


def test_runtime_failure_is_an_error_with_position() -> None:
    with pytest.raises(MappingTemplateError, match=r"line 2, column 1 .*parseJson") as caught:
        render("ok\n$util.parseJson($input.body)", given("not json"))
    assert caught.value.line == 2


def test_same_template_renders_with_different_inputs() -> None:
    template = "#macro(m $v)<$v>#end#m($input.path('$.v'))"
    assert text(template, given('{"v": 1}')) == "<1>"
    assert text(template, given('{"v": 2}')) == "<2>"


def test_names_take_hyphens_as_in_velocity_1_7() -> None:
    payload = given(body='{"records": [{"partition-key": "k3"}, {"partition-key": "k4"}]}')
    template = "#foreach($elem in $input.path('$.records'))$elem.partition-key #end"
    assert render(template, payload).text == "k3 k4 "
    rendered = render(
        '#set($context.requestOverride.header.X-Amz-Target = "AWSEvents.PutEvents")ok', payload
    )
    assert (rendered.text, dict(rendered.request_headers)) == (
        "ok",
        {"X-Amz-Target": "AWSEvents.PutEvents"},
    )


def test_the_payload_a_template_changes_is_the_one_input_json_prints() -> None:
    payload = given(body='{"statuscode": 200, "body": "error1", "items": [1]}')
    template = (
        "#set($b = $input.path('$'))#set($x = $b.put('statuscode', 650))"
        "#set($items = $input.path('$.items'))#set($x = $items.add(2))$input.json('$')"
    )
    assert json.loads(render(template, payload).text) == {
        "statuscode": 650,
        "body": "error1",
        "items": [1, 2],
    }
