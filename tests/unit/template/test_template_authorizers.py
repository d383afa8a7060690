"""An API's ``Auth``: which Lambda authorizer guards each route, and what is refused or
only warned about."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from canaria.models import AuthorizerSpec, GatewayResponseSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, resources, write


def api(auth: str, kind: str = "Api", name: str = "MyApi") -> str:
    stage = "      StageName: Prod\n" if kind == "Api" else ""
    body = f"  {name}:\n    Type: AWS::Serverless::{kind}\n    Properties:\n{stage}"
    return body + "      Auth:\n" + "".join(f"        {line}\n" for line in auth.splitlines())


def event(name: str, path: str, extra: str = "", kind: str = "Api", api_id: str = "MyApi") -> str:
    key = "RestApiId" if kind == "Api" else "ApiId"
    text = f"  {name}:\n    Type: {kind}\n    Properties:\n      {key}: !Ref {api_id}\n"
    text += f"      Path: {path}\n      Method: get\n"
    return text + "".join(f"      {line}\n" for line in extra.splitlines())


def routed(*events: str) -> str:
    return function("Fn", "Events:\n" + "".join(events)) + function("AuthFn")


REST_AUTH = """\
DefaultAuthorizer: TokenAuth
Authorizers:
  TokenAuth:
    FunctionArn: !GetAtt AuthFn.Arn
    Identity: {Header: X-Token, ValidationExpression: "Bearer .+", ReauthorizeEvery: 60}
  ReqAuth:
    FunctionPayloadType: REQUEST
    FunctionArn: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${AuthFn}"
    Identity: {Headers: [X-Key], QueryStrings: [key]}
"""


def routes_of(path: str) -> dict[str, AuthorizerSpec | None]:
    app = load(path)
    return {r.path: r.authorizer for r in app.routes}


def test_the_default_authorizer_guards_every_route_but_those_opting_out(tmp_path: Path) -> None:
    body = resources(
        api(REST_AUTH),
        routed(
            event("A", "/a"),
            event("Open", "/open", "Auth: {Authorizer: NONE}"),
            event("Req", "/req", "Auth: {Authorizer: ReqAuth}"),
        ),
    )
    got = routes_of(write(tmp_path, body))
    assert got == {
        "/a": AuthorizerSpec(
            "TokenAuth",
            "rest",
            "AuthFn",
            payload_type="TOKEN",
            headers=("x-token",),
            validation="Bearer .+",
            ttl_s=60,
        ),
        "/open": None,
        "/req": AuthorizerSpec(
            "ReqAuth",
            "rest",
            "AuthFn",
            payload_type="REQUEST",
            headers=("x-key",),
            query_strings=("key",),
            ttl_s=300,
        ),
    }


def test_an_http_api_lambda_authorizer(tmp_path: Path) -> None:
    auth = """\
DefaultAuthorizer: Simple
Authorizers:
  Simple:
    FunctionArn: !GetAtt AuthFn.Arn
    AuthorizerPayloadFormatVersion: "2.0"
    EnableSimpleResponses: true
    Identity: {Headers: [Authorization], ReauthorizeEvery: 30}
"""
    body = resources(api(auth, "HttpApi"), routed(event("A", "/a", kind="HttpApi")))
    assert routes_of(write(tmp_path, body))["/a"] == AuthorizerSpec(
        "Simple",
        "http",
        "AuthFn",
        payload_type="REQUEST",
        payload_version="2.0",
        simple_responses=True,
        headers=("authorization",),
        ttl_s=30,
    )


def test_globals_give_the_implicit_api_its_authorizers(tmp_path: Path) -> None:
    body = (
        "Globals:\n  Api:\n    Auth:\n      DefaultAuthorizer: T\n      Authorizers:\n"
        "        T: {FunctionArn: !GetAtt AuthFn.Arn}\n"
        + resources(
            function(
                "Fn", "Events:\n  A:\n    Type: Api\n    Properties: {Path: /a, Method: get}\n"
            ),
            function("AuthFn"),
        )
    )
    assert routes_of(write(tmp_path, body))["/a"] == AuthorizerSpec("T", "rest", "AuthFn")


def test_an_alias_arn_names_the_alias(tmp_path: Path) -> None:
    auth = "DefaultAuthorizer: T\nAuthorizers:\n  T: {FunctionArn: !Ref AuthFn.Alias}\n"
    body = resources(
        api(auth),
        function("Fn", "Events:\n" + event("A", "/a")),
        function("AuthFn", "AutoPublishAlias: live"),
    )
    spec = routes_of(write(tmp_path, body))["/a"]
    assert spec is not None and (spec.function, spec.qualifier) == ("AuthFn", "live")


def test_an_authorizer_function_outside_the_template_is_a_warning(tmp_path: Path) -> None:
    auth = (
        "DefaultAuthorizer: T\nAuthorizers:\n"
        "  T: {FunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Elsewhere'}\n"
    )
    body = resources(api(auth), routed(event("A", "/a"), event("B", "/b", "Auth: {Authorizer: T}")))
    app = load(write(tmp_path, body))
    assert [r.authorizer for r in app.routes] == [None, None]
    assert any(
        "authorizer T: its function" in w and "Elsewhere" in w and "served without it" in w
        for w in app.warnings
    ), app.warnings


def test_an_unknown_authorizer_on_an_event_is_refused_at_its_line(tmp_path: Path) -> None:
    body = resources(api(REST_AUTH), routed(event("A", "/a", "Auth: {Authorizer: Tokenauth}")))
    path = write(tmp_path, body)
    err = fails(path)
    assert "'Tokenauth'" in err.message
    assert "TokenAuth" in (err.allowed or err.message)


def test_a_bad_validation_expression_is_refused(tmp_path: Path) -> None:
    auth = (
        "Authorizers:\n  T:\n    FunctionArn: !GetAtt AuthFn.Arn\n"
        "    Identity: {ValidationExpression: '(unclosed'}\n"
    )
    err = fails(write(tmp_path, resources(api(auth), routed(event("A", "/a")))))
    assert "ValidationExpression is not a regular expression" in err.message


def test_cognito_and_jwt_authorizers_check_claims_with_a_warning(tmp_path: Path) -> None:
    cognito = (
        "DefaultAuthorizer: Pool\nAuthorizers:\n  Pool:\n"
        "    UserPoolArn: 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/x'\n"
        "    Identity: {Header: X-Id-Token}\n"
    )
    jwt = (
        "DefaultAuthorizer: Jwt\nAuthorizers:\n  Jwt:\n"
        "    IdentitySource: $request.header.Authorization\n"
        "    AuthorizationScopes: [read]\n"
        "    JwtConfiguration: {issuer: 'https://issuer.example', audience: [a, b]}\n"
    )
    body = resources(
        api(cognito),
        api(jwt, "HttpApi", "Http"),
        routed(
            event("C", "/c"),
            event("J", "/j", kind="HttpApi", api_id="Http"),
            event("W", "/w", "Auth: {AuthorizationScopes: [write]}", "HttpApi", "Http"),
        ),
    )
    app = load(write(tmp_path, body))
    got = {r.path: r.authorizer for r in app.routes}
    assert got["/c"] == AuthorizerSpec(
        "Pool",
        "rest",
        "",
        headers=("x-id-token",),
        ttl_s=0,
        type="cognito",
        issuers=("https://cognito-idp.us-east-1.amazonaws.com/x",),  # from its ARN
        signed=False,  # not a pool of the template: AWS's, whose keys canaria cannot fetch
    )
    jwt_spec = AuthorizerSpec(
        "Jwt",
        "http",
        "",
        payload_type="REQUEST",
        ttl_s=0,
        type="jwt",
        issuer="https://issuer.example",
        audience=("a", "b"),
        scopes=("read",),
    )
    assert got["/j"] == jwt_spec
    assert got["/w"] == replace(jwt_spec, scopes=("write",))
    for what in ("the Cognito user pool authorizer Pool", "the JWT authorizer Jwt"):
        assert any(f"{what} checks the token's claims" in w for w in app.warnings)


@pytest.mark.parametrize(
    ("auth", "warning"),
    [
        (
            "ResourcePolicy: {IpRangeBlacklist: [10.0.0.0/8]}\n",
            "Auth.ResourcePolicy is not applied by canaria",
        ),
        (
            "Authorizers:\n  T: {FunctionArn: !GetAtt AuthFn.Arn, EnableSimpleResponses: true}\n",
            "Auth.Authorizers.T.EnableSimpleResponses is not a property SAM reads here; ignored",
        ),
    ],
)
def test_what_canaria_does_not_apply_is_a_warning(tmp_path: Path, auth: str, warning: str) -> None:
    app = load(write(tmp_path, resources(api(auth), routed(event("A", "/a")))))
    assert [r.authorizer for r in app.routes] == [None]
    assert any(warning in w for w in app.warnings), app.warnings


def test_gateway_responses_reach_the_routes_of_their_api(tmp_path: Path) -> None:
    responses = (
        "  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      StageName: Prod\n"
        "      GatewayResponses:\n"
        "        UNAUTHORIZED:\n          StatusCode: 401\n"
        "          ResponseParameters:\n            Headers:\n"
        "              Access-Control-Allow-Origin: \"'*'\"\n"
        "          ResponseTemplates:\n"
        "            application/json: '{\"error\": $context.error.messageString}'\n"
        "        DEFAULT_5XX:\n          ResponseParameters:\n"
        "            Headers: {X-Trace: \"'on'\"}\n"
    )
    app = load(write(tmp_path, resources(responses, routed(event("A", "/a", api_id="Api")))))
    (route,) = app.routes
    assert route.gateway_responses == (
        (
            "UNAUTHORIZED",
            GatewayResponseSpec(
                401,
                (("Access-Control-Allow-Origin", "*"),),
                '{"error": $context.error.messageString}',
            ),
        ),
        ("DEFAULT_5XX", GatewayResponseSpec(headers=(("X-Trace", "on"),))),
    )
