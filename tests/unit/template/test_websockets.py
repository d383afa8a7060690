"""WebSocket APIs written as API Gateway's own CloudFormation resources: routes, their
Lambda proxy integrations, route responses, the $connect authorizer, the stage, the
selection expression, and what is refused or not served."""

from __future__ import annotations

from pathlib import Path

from canaria.errors import TemplateErrors
from canaria.models import AuthorizerSpec, WebSocketApiSpec, WebSocketRoute, iam_authorizer
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

LAMBDA_PATH = "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions"

# the shape of AWS's "simple-websockets-chat-app" sample
CHAT = f"""\
  Chat:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      Name: chat
      ProtocolType: WEBSOCKET
      RouteSelectionExpression: "$request.body.action"
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Chat
      RouteKey: $connect
      AuthorizationType: NONE
      OperationName: ConnectRoute
      Target: !Join
        - "/"
        - - "integrations"
          - !Ref ConnectInteg
  ConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Chat
      Description: Connect Integration
      IntegrationType: AWS_PROXY
      IntegrationUri:
        Fn::Sub: {LAMBDA_PATH}/${{OnConnectFunction.Arn}}/invocations
  DisconnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Chat
      RouteKey: $disconnect
      AuthorizationType: NONE
      Target: !Join ["/", ["integrations", !Ref DisconnectInteg]]
  DisconnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Chat
      IntegrationType: AWS_PROXY
      IntegrationUri:
        Fn::Sub: {LAMBDA_PATH}/${{OnDisconnectFunction.Arn}}/invocations
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Chat
      RouteKey: sendmessage
      AuthorizationType: NONE
      Target: !Sub integrations/${{SendInteg}}
  SendInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Chat
      IntegrationType: AWS_PROXY
      IntegrationUri:
        Fn::Sub: {LAMBDA_PATH}/${{SendMessageFunction.Arn}}/invocations
  Deployment:
    Type: AWS::ApiGatewayV2::Deployment
    DependsOn: [ConnectRoute, SendRoute, DisconnectRoute]
    Properties:
      ApiId: !Ref Chat
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties:
      StageName: Prod
      Description: Prod Stage
      DeploymentId: !Ref Deployment
      ApiId: !Ref Chat
      StageVariables: {{table: connections, debug: true}}
"""


def app_with(tmp_path: Path, *parts: str) -> str:
    fns = "".join(
        function(name)
        for name in ("OnConnectFunction", "OnDisconnectFunction", "SendMessageFunction", "Auth")
    )
    return write(tmp_path, resources(fns, *parts))


def route(key: str, name: str, target: str, extra: str = "") -> str:
    """A route of Chat to the integration ``target``; ``extra`` lines go under Properties."""
    text = f"""\
  {name}:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Chat
      RouteKey: {key}
      Target: !Join [/, [integrations, !Ref {target}]]
"""
    return text + "".join(f"      {line}\n" for line in extra.splitlines())


def text_of(warnings: tuple[str, ...]) -> str:
    return "\n".join(warnings)


def test_the_chat_samples_routes_are_served_at_its_stage(tmp_path: Path) -> None:
    app = load(app_with(tmp_path, CHAT))
    assert app.websockets == {
        "Chat": WebSocketApiSpec(
            "Chat",
            "Prod",
            "$request.body.action",
            (
                WebSocketRoute("$connect", "OnConnectFunction"),
                WebSocketRoute("$disconnect", "OnDisconnectFunction"),
                WebSocketRoute("sendmessage", "SendMessageFunction"),
            ),
            (("table", "connections"), ("debug", "true")),
        )
    }
    # nothing of it is an HTTP API, a skipped resource or a warning
    assert "Chat" not in app.apis
    assert not [r for f in app.functions.values() for r in f.routes]
    assert not app.skipped
    assert not [w for w in app.warnings if "Chat" in w or "Route" in w or "Integ" in w]


def test_a_route_response_or_its_selection_expression_makes_a_route_two_way(
    tmp_path: Path,
) -> None:
    extra = (
        route("echo", "EchoRoute", "SendInteg", "RouteResponseSelectionExpression: $default")
        + route("ping", "PingRoute", "SendInteg")
        + """\
  SendResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties:
      ApiId: !Ref Chat
      RouteId: !Ref SendRoute
      RouteResponseKey: $default
"""
    )
    app = load(app_with(tmp_path, CHAT, extra))
    ws = app.websockets["Chat"]
    two_way = {r.key: r.two_way for r in ws.routes}
    assert two_way == {
        "$connect": False,
        "$disconnect": False,
        "sendmessage": True,
        "echo": True,
        "ping": False,
    }
    assert not app.skipped  # the route response is read


def test_a_request_authorizer_guards_the_connect_route(tmp_path: Path) -> None:
    chat = CHAT.replace(
        "RouteKey: $connect\n      AuthorizationType: NONE",
        "RouteKey: $connect\n      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Gate",
    ).replace(
        "RouteKey: sendmessage\n      AuthorizationType: NONE",
        "RouteKey: sendmessage\n      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Gate",
    )
    gate = f"""\
  Gate:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Chat
      Name: gate
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub {LAMBDA_PATH}/${{Auth.Arn}}/invocations
      IdentitySource:
        - route.request.header.X-Api-Token
        - route.request.querystring.token
        - stageVariables.stage
"""
    path = app_with(tmp_path, chat, gate)
    app = load(path)
    ws = app.websockets["Chat"]
    connect = ws.route("$connect")
    assert connect is not None and connect.authorizer == AuthorizerSpec(
        "Gate",
        "rest",
        "Auth",
        payload_type="REQUEST",
        headers=("x-api-token",),
        query_strings=("token",),
        ttl_s=0,
    )
    send = ws.route("sendmessage")
    assert send is not None and send.authorizer is None
    warnings = text_of(app.warnings)
    assert f"{path}:{line_of(path, '  SendRoute:')}: Resources.SendRoute: " in warnings
    assert (
        "AuthorizationType CUSTOM on route 'sendmessage' is ignored: API Gateway authorizes "
        "a WebSocket connection once, on its $connect route"
    ) in warnings
    assert "served without it" not in warnings


def test_an_authorizer_named_by_its_alias_runs_that_alias(tmp_path: Path) -> None:
    chat = CHAT.replace(
        "RouteKey: $connect\n      AuthorizationType: NONE",
        "RouteKey: $connect\n      AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Gate",
    )
    gate = f"""\
  Gate:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Chat
      Name: gate
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub {LAMBDA_PATH}/${{Auth.Alias}}/invocations
"""
    fns = "".join(
        function(name)
        for name in ("OnConnectFunction", "OnDisconnectFunction", "SendMessageFunction")
    )
    path = write(
        tmp_path, resources(fns, function("Auth", extra="AutoPublishAlias: live\n"), chat, gate)
    )
    connect = load(path).websockets["Chat"].route("$connect")
    assert connect is not None and connect.authorizer is not None
    assert (connect.authorizer.function, connect.authorizer.qualifier) == ("Auth", "live")


def test_iam_guards_connect_and_an_authorizer_canaria_does_not_run_leaves_it_unguarded(
    tmp_path: Path,
) -> None:
    chat = CHAT.replace(
        "RouteKey: $connect\n      AuthorizationType: NONE",
        "RouteKey: $connect\n      AuthorizationType: AWS_IAM",
    )
    jwt = """\
  Jwt:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Chat
      Name: jwt
      AuthorizerType: REQUEST
      AuthorizerUri: arn:aws:lambda:us-east-1:123456789012:function:elsewhere
      IdentitySource: [route.request.header.Authorization]
"""
    app = load(app_with(tmp_path, chat, jwt))
    connect = app.websockets["Chat"].route("$connect")
    assert connect is not None and connect.authorizer == iam_authorizer("http")
    warnings = text_of(app.warnings)
    assert "Resources.Jwt: this authorizer is not run" in warnings
    unguarded = chat.replace("AuthorizationType: AWS_IAM", "AuthorizationType: CUSTOM")
    unguarded = unguarded.replace(
        "AuthorizationType: CUSTOM", "AuthorizationType: CUSTOM\n      AuthorizerId: !Ref Jwt", 1
    )
    app = load(app_with(tmp_path, unguarded, jwt))
    connect = app.websockets["Chat"].route("$connect")
    assert connect is not None and connect.authorizer is None
    assert (
        "Resources.Chat: 1 route(s) are authorized by an authorizer canaria does not run: "
        "served without it"
    ) in text_of(app.warnings)


def test_routes_to_services_and_mocks_are_integrations(tmp_path: Path) -> None:
    others = (
        route("mocked", "MockRoute", "MockInteg")
        + route("stored", "StoreRoute", "StoreInteg")
        + route("$default", "DefaultRoute", "ElsewhereInteg")
        + """\
  MockInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Chat, IntegrationType: MOCK}
  StoreInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Chat
      IntegrationType: AWS
      IntegrationMethod: POST
      IntegrationUri: !Sub arn:aws:apigateway:${AWS::Region}:dynamodb:action/PutItem
  StoreResponse:
    Type: AWS::ApiGatewayV2::IntegrationResponse
    Properties: {ApiId: !Ref Chat, IntegrationId: !Ref StoreInteg, IntegrationResponseKey: /200/}
  ElsewhereInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Chat
      IntegrationType: AWS_PROXY
      IntegrationUri: arn:aws:lambda:us-east-1:123456789012:function:elsewhere
"""
    )
    app = load(app_with(tmp_path, CHAT, others))
    routes = {r.key: r for r in app.websockets["Chat"].routes}
    assert list(routes) == ["$connect", "$disconnect", "sendmessage", "mocked", "stored"]
    mocked, stored = routes["mocked"].integration, routes["stored"].integration
    assert mocked is not None and mocked.kind == "mock" and routes["mocked"].function == ""
    assert stored is not None and stored.aws is not None
    assert (stored.aws.service, stored.aws.action) == ("dynamodb", "PutItem")
    assert [(r.pattern, r.status) for r in stored.responses] == [("200", 0)]  # /200/
    assert (
        "Resources.Chat: 1 route(s) are Lambda proxies of a function this template does "
        "not declare: not served"
    ) in text_of(app.warnings)  # the function elsewhere
    assert not app.skipped


def test_two_routes_with_one_key_are_refused_at_the_second(tmp_path: Path) -> None:
    again = route("sendmessage", "Again", "ConnectInteg")
    path = app_with(tmp_path, CHAT, again)
    err = fails(path)
    assert err.prop == "Resources.Again.Properties.RouteKey"
    assert err.line == line_of(path, "  Again:") + 4
    assert err.detail.startswith("route key 'sendmessage' already exists on Chat (route SendRoute)")


def test_a_reserved_looking_key_is_refused_with_every_other_route_error(tmp_path: Path) -> None:
    extra = route("$connected", "Typo", "SendInteg") + route("$connect", "Twice", "SendInteg")
    path = app_with(tmp_path, CHAT, extra)
    err = fails(path)
    assert isinstance(err, TemplateErrors)
    assert [(e.prop, e.line) for e in err.errors] == [
        ("Resources.Typo.Properties.RouteKey", line_of(path, "RouteKey: $connected")),
        ("Resources.Twice.Properties.RouteKey", line_of(path, "  Twice:") + 4),
    ]
    typo = err.errors[0]
    assert typo.detail == "route key '$connected' is not one API Gateway accepts"
    assert typo.allowed is not None and typo.allowed.startswith("$connect, $disconnect, $default")


def test_an_api_without_a_stage_is_not_served(tmp_path: Path) -> None:
    unstaged = CHAT.split("  Stage:")[0]
    app = load(app_with(tmp_path, unstaged))
    assert app.websockets == {}
    warnings = text_of(app.warnings)
    assert "Resources.Chat: it has no stage (an AWS::ApiGatewayV2::Stage): not served" in warnings
    assert "WEBSOCKET API is not served" not in warnings  # not cfn_apis' own warning


def test_a_braced_selection_expression_is_written_as_the_plain_one(tmp_path: Path) -> None:
    chat = CHAT.replace('"$request.body.action"', '"${request.body.message.type}"')
    app = load(app_with(tmp_path, chat))
    assert app.websockets["Chat"].selection == "$request.body.message.type"
    assert "RouteSelectionExpression" not in text_of(app.warnings)


def test_an_expression_canaria_does_not_evaluate_sends_everything_to_default(
    tmp_path: Path,
) -> None:
    chat = CHAT.replace('"$request.body.action"', '"$request.header.x-route"')
    app = load(app_with(tmp_path, chat))
    assert app.websockets["Chat"].selection == "$request.header.x-route"
    assert (
        "Resources.Chat: RouteSelectionExpression '$request.header.x-route' is not one canaria "
        "evaluates"
    ) in text_of(app.warnings)
    assert "every message goes to the $default route" in text_of(app.warnings)


def test_a_missing_selection_expression_is_the_usual_one(tmp_path: Path) -> None:
    chat = CHAT.replace('      RouteSelectionExpression: "$request.body.action"\n', "")
    app = load(app_with(tmp_path, chat))
    assert app.websockets["Chat"].selection == "$request.body.action"
    assert "needs a RouteSelectionExpression" in text_of(app.warnings)


def test_an_http_api_beside_it_keeps_its_own_routes(tmp_path: Path) -> None:
    http = """\
  Orders:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: orders, ProtocolType: HTTP}
  OrdersInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Orders
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt SendMessageFunction.Arn
      PayloadFormatVersion: '2.0'
  OrdersRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Orders
      RouteKey: $default
      Target: !Sub integrations/${OrdersInteg}
  OrdersStage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Orders, StageName: $default}
"""
    app = load(app_with(tmp_path, CHAT, http))
    assert set(app.websockets) == {"Chat"}
    assert set(app.apis) == {"Orders"}
    served = [(r.api_id, r.path) for r in app.functions["SendMessageFunction"].routes]
    assert served == [("Orders", "$default")]
    # neither API counts the other's routes among those it does not serve
    assert "route(s)" not in text_of(app.warnings)
