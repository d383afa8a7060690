"""SAM's ``AWS::Serverless::WebSocketApi``: read into the same ``WebSocketApiSpec`` as a
WebSocket API written as API Gateway's own resources; its Ref, stage, authorizer, what is
not served, and SAM's own errors at their lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.gateway.websockets import websocket_api_id
from canaria.models import AuthorizerSpec, WebSocketApiSpec, WebSocketRoute, iam_authorizer
from canaria.template import load
from canaria.template.validate import validate
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

ELSEWHERE = "arn:aws:lambda:us-east-1:123456789012:function:elsewhere"


def chat(properties: str) -> str:
    """The WebSocket API ``Chat``; ``properties`` lines go under Properties (6 spaces)."""
    head = """\
  Chat:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      RouteSelectionExpression: $request.body.action
"""
    return head + "".join(f"      {line}\n" for line in properties.splitlines())


CONNECT = """\
Routes:
  $connect:
    FunctionArn: !GetAtt Connect.Arn
  sendmessage:
    FunctionArn: !GetAtt Send.Arn
"""


def app_with(tmp_path: Path, api: str, before: str = "", env: str = "") -> str:
    """Functions Connect, Disconnect, Send (AutoPublishAlias live), Echo, Named (its
    FunctionName ``named-fn``) and Gate (AutoPublishAlias live), and ``api``; ``env``
    lines are Connect's environment variables."""
    variables = "Environment:\n  Variables:\n" + "".join(
        f"    {line}\n" for line in env.splitlines()
    )
    fns = (
        function("Connect", extra=variables if env else "")
        + function("Disconnect")
        + function("Send", extra="AutoPublishAlias: live\n")
        + function("Echo")
        + function("Named", extra="FunctionName: named-fn\n")
        + function("Gate", extra="AutoPublishAlias: live\n")
    )
    return write(tmp_path, before + resources(fns, api))


def text_of(warnings: tuple[str, ...]) -> str:
    return "\n".join(warnings)


def test_each_route_names_its_function_however_its_arn_is_written(tmp_path: Path) -> None:
    api = chat("""\
Name: chat
Routes:
  $connect:
    FunctionArn: !GetAtt Connect.Arn
  $disconnect:
    FunctionArn: !Sub ${Disconnect.Arn}
  sendmessage:
    FunctionArn: !Ref Send.Alias
    IntegrationTimeout: 5000
  $default:
    FunctionArn: !Sub arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:${Echo}
    RouteResponseSelectionExpression: $default
  named:
    FunctionArn: !Sub arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:named-fn
""")
    app = load(app_with(tmp_path, api))
    assert app.websockets == {
        "Chat": WebSocketApiSpec(
            "Chat",
            "default",  # SAM's stage when StageName is not written
            "$request.body.action",
            (
                WebSocketRoute("$connect", "Connect"),
                WebSocketRoute("$disconnect", "Disconnect"),
                WebSocketRoute("sendmessage", "Send"),
                WebSocketRoute("$default", "Echo", two_way=True),
                WebSocketRoute("named", "Named"),
            ),
        )
    }
    # an API of its own kind: no HTTP API, no skipped resource, no warning about it
    assert "Chat" not in app.apis
    assert not [r for f in app.functions.values() for r in f.routes]
    assert not app.skipped
    assert "Chat" not in text_of(app.warnings)


def test_ref_gives_the_api_id_the_gateway_serves_it_under(tmp_path: Path) -> None:
    env = """\
API_ID: !Ref Chat
STAGE: !Ref Chat.Stage
ENDPOINT: !GetAtt Chat.ApiEndpoint
ID: !GetAtt Chat.ApiId
CALLBACK: !Sub https://${Chat}.execute-api.${AWS::Region}.amazonaws.com/${Chat.Stage}
"""
    app = load(app_with(tmp_path, chat(CONNECT), env=env))
    variables = dict(app.functions["Connect"].config.environment)
    assert variables == {
        "API_ID": "chat",
        "STAGE": "default",
        "ENDPOINT": "wss://chat.execute-api.us-east-1.amazonaws.com",
        "ID": "chat",
        "CALLBACK": "https://chat.execute-api.us-east-1.amazonaws.com/default",
    }
    assert websocket_api_id(app.websockets["Chat"].logical_id) == variables["API_ID"]


def test_an_explicit_stage_and_its_variables_with_those_of_globals(tmp_path: Path) -> None:
    before = """\
Parameters:
  Stage: {Type: String, Default: Prod}
Globals:
  WebSocketApi:
    StageVariables: {table: connections, debug: true}
"""
    api = chat(CONNECT + "StageName: !Ref Stage\nStageVariables: {debug: false, limit: 10}\n")
    path = app_with(tmp_path, api, before, env="STAGE: !Ref Chat.Stage\n")
    app = load(path)
    ws = app.websockets["Chat"]
    assert ws.stage == "Prod"
    assert ws.stage_variables == (("table", "connections"), ("debug", "false"), ("limit", "10"))
    assert dict(app.functions["Connect"].config.environment)["STAGE"] == "Prod"
    again = load(path, {"Stage": "Beta"})
    assert again.websockets["Chat"].stage == "Beta"
    assert dict(again.functions["Connect"].config.environment)["STAGE"] == "Beta"


def test_a_custom_authorizer_guards_connect_with_its_identity_sources(tmp_path: Path) -> None:
    api = chat(
        CONNECT
        + """\
Auth:
  AuthType: CUSTOM
  AuthArn: !GetAtt Gate.Arn
  IdentitySource:
    - route.request.header.X-Api-Token
    - route.request.querystring.token
    - stageVariables.gate
"""
    )
    app = load(app_with(tmp_path, api))
    ws = app.websockets["Chat"]
    connect = ws.route("$connect")
    # built as one written as an AWS::ApiGatewayV2::Authorizer is, named as SAM names it
    assert connect is not None and connect.authorizer == AuthorizerSpec(
        "ChatConnectAuthorizer",
        "rest",
        "Gate",
        payload_type="REQUEST",
        headers=("x-api-token",),
        query_strings=("token",),
        ttl_s=0,
    )
    send = ws.route("sendmessage")
    assert send is not None and send.authorizer is None  # SAM authorizes $connect alone
    assert "Chat" not in text_of(app.warnings)


def test_an_authorizer_named_by_its_alias_runs_that_alias(tmp_path: Path) -> None:
    api = chat(CONNECT + "Auth: {AuthType: CUSTOM, AuthArn: !Ref Gate.Alias}\n")
    connect = load(app_with(tmp_path, api)).websockets["Chat"].route("$connect")
    assert connect is not None and connect.authorizer is not None
    assert (connect.authorizer.function, connect.authorizer.qualifier) == ("Gate", "live")
    # no identity source: every connection reaches the authorizer
    assert connect.authorizer.headers == () and connect.authorizer.query_strings == ()


def test_iam_authorization_guards_connect(tmp_path: Path) -> None:
    path = app_with(tmp_path, chat(CONNECT + "Auth: {AuthType: AWS_IAM}\n"))
    app = load(path)
    connect = app.websockets["Chat"].route("$connect")
    assert connect is not None and connect.authorizer == iam_authorizer("http")
    assert "Chat" not in text_of(app.warnings)


def test_none_authorization_is_no_authorizer_and_no_warning(tmp_path: Path) -> None:
    app = load(app_with(tmp_path, chat(CONNECT + "Auth: {AuthType: NONE}\n")))
    assert all(r.authorizer is None for r in app.websockets["Chat"].routes)
    assert "Chat" not in text_of(app.warnings)


def test_functions_outside_the_template_are_not_run(tmp_path: Path) -> None:
    api = chat(f"""\
Routes:
  $connect:
    FunctionArn: !GetAtt Connect.Arn
  $default:
    FunctionArn: {ELSEWHERE}
  other:
    FunctionArn: !Sub arn:aws:lambda:${{AWS::Region}}:${{AWS::AccountId}}:function:gone
Auth:
  AuthType: CUSTOM
  AuthArn: {ELSEWHERE}
""")
    app = load(app_with(tmp_path, api))
    [connect] = app.websockets["Chat"].routes
    assert connect == WebSocketRoute("$connect", "Connect")
    warnings = text_of(app.warnings)
    assert (
        "Resources.Chat: 2 route(s) are Lambda proxies of a function this template does "
        "not declare: not served"
    ) in warnings
    assert (
        "Resources.Chat: 1 route(s) are authorized by an authorizer canaria does not run: "
        "served without it"
    ) in warnings


def test_a_disabled_api_is_not_served(tmp_path: Path) -> None:
    before = "Conditions:\n  Never: !Equals [a, b]\n"
    api = chat(CONNECT).replace(
        "    Type: AWS::Serverless::WebSocketApi\n",
        "    Condition: Never\n    Type: AWS::Serverless::WebSocketApi\n",
    )
    app = load(app_with(tmp_path, api, before))
    assert app.websockets == {}


# ---- what SAM refuses, at its line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("properties", "prop", "needle", "detail"),
    [
        (
            CONNECT + "  $foo:\n    FunctionArn: !GetAtt Echo.Arn\n",
            "Routes.$foo",
            "  $foo:",
            "Route key '$foo' must be alphanumeric. Only $connect, $disconnect, and $default "
            "special routes are supported.",
        ),
        (
            CONNECT + "  send-message:\n    FunctionArn: !GetAtt Echo.Arn\n",
            "Routes.send-message",
            "  send-message:",
            "Route key 'send-message' must be alphanumeric. Only $connect, $disconnect, and "
            "$default special routes are supported.",
        ),
        (
            CONNECT + "StageName: $default\n",
            "StageName",
            "StageName: $default",
            "Stages cannot be named $default for WebSocket APIs.",
        ),
        (
            CONNECT + "Auth:\n  AuthType: CUSTOM\n  IdentitySource: [route.request.header.A]\n",
            "Auth",
            "      Auth:",
            "AuthArn must be specified if AuthType is CUSTOM.",
        ),
        (
            CONNECT + "  $default:\n    IntegrationTimeout: 3000\n",
            "Routes.$default",
            "  $default:",
            "Route must have associated function.",
        ),
        (
            CONNECT.replace("  $connect", "  $disconnect")
            + "Auth: {AuthType: CUSTOM, AuthArn: !GetAtt Gate.Arn}\n",
            "Auth",
            "      Auth:",
            "Authorization is only available if there is a $connect route.",
        ),
    ],
)
def test_what_sam_refuses_is_reported_at_its_line(
    tmp_path: Path, properties: str, prop: str, needle: str, detail: str
) -> None:
    path = app_with(tmp_path, chat(properties))
    err = fails(path)
    line = line_of(path, needle)
    assert (err.prop, err.line, err.detail) == (f"Resources.Chat.Properties.{prop}", line, detail)
    assert err.message == f"{path}:{line}: Resources.Chat.Properties.{prop}: {detail}"
    report = validate(Path(path))
    assert [(p.line, p.property, p.message) for p in report.errors] == [(line, err.prop, detail)]


def test_sam_requires_a_selection_expression(tmp_path: Path) -> None:
    api = chat(CONNECT).replace("      RouteSelectionExpression: $request.body.action\n", "")
    path = app_with(tmp_path, api)
    err = fails(path)
    assert (err.prop, err.line) == ("Resources.Chat", line_of(path, "  Chat:"))
    assert err.detail == "Missing required property 'RouteSelectionExpression'."


def test_a_valid_api_passes_validate(tmp_path: Path) -> None:
    report = validate(Path(app_with(tmp_path, chat(CONNECT))))
    assert report.valid and not [w for w in report.warnings if "Chat" in w]
