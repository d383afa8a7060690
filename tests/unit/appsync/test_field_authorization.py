"""Which fields a request may read, by the authorization mode that let it in: a field's
own directives, else its type's, else the default mode only; Cognito groups; a Lambda
authorizer's denied fields. Real graphql-core execution of fields without resolvers."""

from __future__ import annotations

import asyncio
from typing import Any

from canaria.appsync.execute import GraphQLApi, Request
from canaria.models.appsync import GraphQLApiSpec

SCHEMA = """
type Post @aws_api_key @aws_cognito_user_pools {
  id: ID
  secret: String @aws_cognito_user_pools(cognito_groups: ["editors"])
}
type Query {
  post: Post @aws_api_key @aws_cognito_user_pools
  stats: Int
  open: Int @aws_api_key @aws_iam
}
"""
ROOT_POST = {"id": "p1", "secret": "s"}


def run(mode: str, query: str, identity: Any = None, denied: frozenset[str] = frozenset()) -> Any:
    spec = GraphQLApiSpec(
        "Api", "a", SCHEMA, "schema", ("AMAZON_COGNITO_USER_POOLS", "API_KEY", "AWS_IAM")
    )
    api = GraphQLApi(spec, None, None, lambda: None)  # type: ignore[arg-type]
    api.schema.query_type.fields["post"].resolve = lambda *_: ROOT_POST  # type: ignore[union-attr]
    api.schema.query_type.fields["stats"].resolve = lambda *_: 7  # type: ignore[union-attr]
    api.schema.query_type.fields["open"].resolve = lambda *_: 1  # type: ignore[union-attr]
    request = Request(identity, {}, "", {}, None, mode, denied)
    return asyncio.run(api.execute(query, None, None, request))


def refused(answer: Any) -> set[str]:
    return {".".join(map(str, e["path"])) for e in answer.get("errors", ())}


def test_a_field_without_directives_is_the_default_modes_only() -> None:
    assert run("AMAZON_COGNITO_USER_POOLS", "{ stats }", {"groups": []}) == {"data": {"stats": 7}}
    answer = run("API_KEY", "{ stats open }")
    assert answer["data"] == {"stats": None, "open": 1}
    assert refused(answer) == {"stats"}
    (error,) = answer["errors"]
    assert (error["errorType"], error["message"]) == (
        "Unauthorized",
        "Not Authorized to access stats on type Query",
    )


def test_a_fields_directives_replace_its_types_and_groups_are_required() -> None:
    query = "{ post { id secret } }"
    answer = run("API_KEY", query)  # Post allows API keys; its secret only editors
    assert answer["data"] == {"post": {"id": "p1", "secret": None}}
    assert refused(answer) == {"post.secret"}
    assert refused(run("AMAZON_COGNITO_USER_POOLS", query, {"groups": ["readers"]})) == {
        "post.secret"
    }
    editor = run("AMAZON_COGNITO_USER_POOLS", query, {"groups": ["editors"]})
    assert editor == {"data": {"post": {"id": "p1", "secret": "s"}}}
    assert refused(run("AWS_IAM", query)) == {"post"}  # neither Query.post nor Post allow IAM


def test_a_lambda_authorizers_denied_fields_are_null() -> None:
    answer = run("API_KEY", "{ open post { id } }", denied=frozenset({"Query.open"}))
    assert answer["data"] == {"open": None, "post": {"id": "p1"}}
    assert refused(answer) == {"open"}
