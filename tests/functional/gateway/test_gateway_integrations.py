"""Methods that are not Lambda proxies, on a real GatewayServer on loopback: the integration
request each one sends (to a real HTTP server on loopback standing where a service's
endpoint or an HTTP integration's URL would be, through the real signing sender), and how
the backend's answer becomes the client's, as API Gateway maps them."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from canaria.aws.states import PlatformTasks
from canaria.clock import RealClock
from canaria.gateway import GatewayServer, Routing
from canaria.models import Alias, RouteSpec, WebSocketApiSpec, WebSocketRoute
from canaria.models.integrations import AwsTarget, IntegrationResponseSpec, IntegrationSpec
from canaria.services.outbound import SignedBackends
from canaria.workflows import TaskFailed
from tests.unit.gateway.fakes import FakeInvoker, ListRecorder

SNS_ANSWER = (
    b'<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">'
    b"<PublishResult><MessageId>m-1</MessageId></PublishResult>"
    b"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></PublishResponse>"
)


class Backend:
    """A loopback HTTP server that records each request and answers by path."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.answers: dict[str, tuple[int, str, bytes]] = {}
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                backend.seen.append(
                    {
                        "method": self.command,
                        "path": url.path,
                        "query": dict(parse_qsl(url.query)),
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                    }
                )
                if url.path == "/slow":
                    time.sleep(1.0)
                status, media, answer = backend.answers.get(
                    url.path, (200, "application/json", b'{"ok": true}')
                )
                self.send_response(status)
                self.send_header("Content-Type", media)
                self.send_header("X-Backend", "yes")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the slow answer's client has gone: nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backend() -> Iterator[Backend]:
    b = Backend()
    yield b
    b.close()


def responses(*items: IntegrationResponseSpec) -> tuple[IntegrationResponseSpec, ...]:
    return items


OK = IntegrationResponseSpec(200)
JSON_TEMPLATE = "application/json"

ROUTES: list[tuple[str, str, IntegrationSpec]] = [
    (
        "GET",
        "/items/{id}",
        IntegrationSpec(
            "aws",
            aws=AwsTarget("dynamodb", "GetItem", None),
            request_templates=(
                (
                    JSON_TEMPLATE,
                    '{"TableName": "t", "Key": {"id": {"S": "$input.params(\'id\')"}}}',
                ),
            ),
            responses=responses(
                IntegrationResponseSpec(400, r"4\d{2}", ((JSON_TEMPLATE, '{"bad": true}'),)),
                IntegrationResponseSpec(
                    200,
                    None,
                    ((JSON_TEMPLATE, "{\"got\": $input.json('$.ok')}"),),
                    (("method.response.header.X-From", "integration.response.header.X-Backend"),),
                ),
            ),
        ),
    ),
    (
        "POST",
        "/notify",
        IntegrationSpec(
            "aws",
            aws=AwsTarget("sns", "Publish", None),
            request_parameters=(
                ("integration.request.querystring.TopicArn", "'arn:aws:sns:us-east-1:1:t'"),
                ("integration.request.querystring.Message", "method.request.body.text"),
            ),
            responses=responses(
                IntegrationResponseSpec(
                    200,
                    None,
                    (
                        (
                            JSON_TEMPLATE,
                            '{"id": "$input.path(\'$.PublishResponse.PublishResult.MessageId\')"}',
                        ),
                    ),
                )
            ),
        ),
    ),
    (
        "POST",
        "/queue",
        IntegrationSpec(
            "aws",
            aws=AwsTarget("sqs", None, "123456789012/{name}"),
            request_parameters=(
                ("integration.request.path.name", "stageVariables.queue"),
                ("integration.request.header.Content-Type", "'application/x-www-form-urlencoded'"),
            ),
            request_templates=(
                (JSON_TEMPLATE, "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"),
            ),
            passthrough="NEVER",
            responses=responses(OK),
        ),
    ),
    (
        "POST",
        "/quote",
        IntegrationSpec(
            "lambda",
            function="quote",
            request_templates=(
                (JSON_TEMPLATE, '{"n": $input.json(\'$.n\'), "stage": "$context.stage"}'),
            ),
            responses=responses(
                IntegrationResponseSpec(
                    422,
                    "too many.*",
                    ((JSON_TEMPLATE, '{"error": "$input.path(\'$.errorMessage\')"}'),),
                ),
                OK,
            ),
        ),
    ),
    (
        "GET",
        "/mock",
        IntegrationSpec(
            "mock",
            request_templates=(
                (
                    JSON_TEMPLATE,
                    "#if($input.params('missing') == \"yes\")"
                    '{"statusCode": 404}#else{"statusCode": 200}#end',
                ),
            ),
            responses=responses(
                IntegrationResponseSpec(404, "404", ((JSON_TEMPLATE, '{"found": false}'),)),
                IntegrationResponseSpec(
                    200,
                    None,
                    (
                        (
                            JSON_TEMPLATE,
                            '#set($context.responseOverride.header.X_Override = "set")'
                            '{"found": true}',
                        ),
                    ),
                    (("method.response.header.Content-Type", "'application/vnd.mock+json'"),),
                ),
            ),
        ),
    ),
    (
        "POST",
        "/strict",
        IntegrationSpec(
            "mock",
            request_templates=(("application/xml", '{"statusCode": 200}'),),
            passthrough="WHEN_NO_TEMPLATES",
            responses=responses(OK),
        ),
    ),
    (
        "GET",
        "/receive",
        IntegrationSpec(
            "aws",
            http_method="POST",
            aws=AwsTarget("sqs", None, "123456789012/inbox"),
            request_parameters=(("integration.request.querystring.Action", "'ReceiveMessage'"),),
            responses=responses(OK),
        ),
    ),
    (
        "POST",
        "/slow",
        IntegrationSpec("http", url="{backend}/slow", timeout_s=0.2, responses=responses(OK)),
    ),
    (
        "POST",
        "/broken",
        IntegrationSpec(
            "mock",
            request_templates=((JSON_TEMPLATE, "#if($x"),),
            responses=responses(OK),
        ),
    ),
    (
        "GET",
        "/nowhere",
        IntegrationSpec(
            "aws", aws=AwsTarget("translate", "TranslateText", None), responses=responses(OK)
        ),
    ),
    (
        "GET",
        "/unmatched",
        IntegrationSpec("mock", responses=responses(IntegrationResponseSpec(200, "5\\d{2}"))),
    ),
    (
        "ANY",
        "/proxy/{path+}",
        IntegrationSpec("http_proxy", url="{backend}/echo/{path}", http_method="ANY"),
    ),
]


class Gateway:
    def __init__(self, server: GatewayServer, invoker: FakeInvoker, recorder: ListRecorder):
        self.server = server
        self.invoker = invoker
        self.recorder = recorder

    def call(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            answer = conn.getresponse()
            raw = answer.read()
            headers_ = {k.lower(): v for k, v in answer.getheaders()}
        finally:
            conn.close()
        try:
            return answer.status, headers_, json.loads(raw)
        except ValueError:
            return answer.status, headers_, raw


def quote(event: dict[str, Any], version: int) -> Any:
    if event["n"] > 10:
        raise ValueError(f"too many: {event['n']}")
    if event["n"] < 0:
        raise RuntimeError("negative")
    return {"price": event["n"] * 3, "stage": event["stage"], "v": version}


@pytest.fixture
async def gw(backend: Backend) -> AsyncIterator[Gateway]:
    routing = Routing()
    specs = []
    for method, path, spec in ROUTES:
        if spec.url is not None:
            spec = type(spec)(
                **{**spec.__dict__, "url": spec.url.replace("{backend}", backend.url)}
            )
        specs.append(
            RouteSpec(
                method,
                path,
                "rest",
                "Api",
                "Prod",
                spec.function or "",
                stage_variables=(("queue", "orders"),),
                integration=spec,
            )
        )
    specs.append(
        RouteSpec(
            "POST",
            "/events",
            "http",
            "Http",
            "$default",
            "",
            integration=IntegrationSpec(
                "service",
                subtype="SQS-SendMessage",
                request_parameters=(
                    ("QueueUrl", "https://sqs.us-east-1.amazonaws.com/123456789012/q"),
                    ("MessageBody", "$request.body.text"),
                    ("MessageGroupId", "group-${request.header.x-group}"),
                    ("DelaySeconds", "5"),
                ),
            ),
        )
    )
    specs.append(
        RouteSpec(
            "POST",
            "/runs/{kind}",
            "http",
            "Http",
            "$default",
            "",
            integration=IntegrationSpec(
                "service",
                subtype="StepFunctions-StartExecution",
                request_parameters=(
                    ("StateMachineArn", "arn:aws:states:us-east-1:123456789012:stateMachine:m"),
                    ("Input", "$request.body"),
                    ("Name", "run-$request.path.kind"),
                ),
            ),
        )
    )
    routing.set_routes(specs, {"quote": "live"})
    routing.set_alias(Alias("quote", "live", 3))
    invoker = FakeInvoker({"quote": quote})
    recorder = ListRecorder()

    def endpoint(service: str) -> str | None:
        return None if service == "translate" else backend.url

    backends = SignedBackends(endpoint, "AKIDCANARIA", "secret")
    server = GatewayServer(routing, invoker, recorder, RealClock(), port=0, backends=backends)
    await server.start()
    yield Gateway(server, invoker, recorder)
    await server.stop()
    backends.close()


async def call(gw: Gateway, *args: Any, **kwargs: Any) -> tuple[int, dict[str, str], Any]:
    return await asyncio.to_thread(gw.call, *args, **kwargs)


async def test_an_action_of_a_json_service_is_signed_and_targeted(
    gw: Gateway, backend: Backend
) -> None:
    status, headers, body = await call(gw, "GET", "/Prod/items/a1")
    assert (status, body) == (200, {"got": True})
    assert headers["x-from"] == "yes"  # ResponseParameters from the backend's header
    (sent,) = backend.seen
    assert sent["method"] == "POST" and sent["path"] == "/"
    assert sent["headers"]["x-amz-target"] == "DynamoDB_20120810.GetItem"
    assert sent["headers"]["content-type"] == "application/x-amz-json-1.0"
    assert (
        sent["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDCANARIA/")
        and "/us-east-1/dynamodb/aws4_request" in sent["headers"]["authorization"]
    )
    assert json.loads(sent["body"]) == {"TableName": "t", "Key": {"id": {"S": "a1"}}}

    backend.answers["/"] = (400, "application/json", b'{"__type": "ValidationException"}')
    assert (await call(gw, "GET", "/Prod/items/a2"))[:3:2] == (400, {"bad": True})


async def test_a_query_service_gets_its_action_and_answers_in_json(
    gw: Gateway, backend: Backend
) -> None:
    backend.answers["/"] = (200, "text/xml", SNS_ANSWER)
    status, _, body = await call(
        gw, "POST", "/Prod/notify", b'{"text": "hi there"}', {"Content-Type": "application/json"}
    )
    assert (status, body) == (200, {"id": "m-1"})
    (sent,) = backend.seen
    assert sent["query"] == {
        "Action": "Publish",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": "hi there",
    }


SQS_MESSAGES = (
    b'<ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">'
    b"<ReceiveMessageResult><Message><MessageId>m-1</MessageId><ReceiptHandle>r</ReceiptHandle>"
    b"<MD5OfBody>d</MD5OfBody><Body>hello</Body>"
    b"<Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute></Message>"
    b"</ReceiveMessageResult><ResponseMetadata><RequestId>q-1</RequestId></ResponseMetadata>"
    b"</ReceiveMessageResponse>"
)
SQS_EMPTY = (
    b"<ReceiveMessageResponse><ReceiveMessageResult></ReceiveMessageResult>"
    b"<ResponseMetadata><RequestId>q-2</RequestId></ResponseMetadata></ReceiveMessageResponse>"
)


async def test_an_sqs_answer_has_the_json_shape_api_gateway_gets(
    gw: Gateway, backend: Backend
) -> None:
    backend.answers["/123456789012/inbox"] = (200, "text/xml", SQS_MESSAGES)
    status, headers, body = await call(gw, "GET", "/Prod/receive")
    assert (status, headers["content-type"]) == (200, "application/json")
    assert body == {
        "ReceiveMessageResponse": {
            "ReceiveMessageResult": {
                "messages": [  # a list with one message; every member, null when absent
                    {
                        "Attributes": {"SentTimestamp": "1"},
                        "Body": "hello",
                        "MD5OfBody": "d",
                        "MD5OfMessageAttributes": None,
                        "MessageAttributes": None,
                        "MessageId": "m-1",
                        "ReceiptHandle": "r",
                    }
                ]
            },
            "ResponseMetadata": {"RequestId": "q-1"},
        }
    }
    backend.answers["/123456789012/inbox"] = (200, "text/xml", SQS_EMPTY)
    empty = (await call(gw, "GET", "/Prod/receive"))[2]
    assert empty["ReceiveMessageResponse"]["ReceiveMessageResult"] == {"messages": None}
    assert backend.seen[0]["query"] == {"Action": "ReceiveMessage"}


async def test_a_path_integration_fills_its_path_from_request_parameters(
    gw: Gateway, backend: Backend
) -> None:
    status, _, _ = await call(gw, "POST", "/Prod/queue", b'{"a": "b&c"}')  # no Content-Type
    assert status == 200
    (sent,) = backend.seen
    assert sent["path"] == "/123456789012/orders"  # {name} from a stage variable
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(sent["body"].decode())) == {
        "Action": "SendMessage",
        "MessageBody": '{"a": "b&c"}',
    }
    # PassthroughBehavior NEVER: no template for this type, no request
    refused = await call(gw, "POST", "/Prod/queue", b"x", {"Content-Type": "text/plain"})
    assert refused[0::2] == (415, {"message": "Unsupported Media Type"})
    assert len(backend.seen) == 1


async def test_a_function_with_a_mapping_template_is_invoked_through_its_alias(
    gw: Gateway,
) -> None:
    status, _, body = await call(gw, "POST", "/Prod/quote", b'{"n": 2}')
    assert (status, body) == (200, {"price": 6, "stage": "Prod", "v": 3})
    assert gw.invoker.calls[-1][:3] == ("quote", 3, "live")
    # an error matching a selection pattern: that response; another: the default (200)
    assert (await call(gw, "POST", "/Prod/quote", b'{"n": 11}'))[0::2] == (
        422,
        {"error": "too many: 11"},
    )
    status, _, body = await call(gw, "POST", "/Prod/quote", b'{"n": -1}')
    assert status == 200 and body["errorMessage"] == "negative"
    # every invocation recorded for the judge, the failed ones as errors
    recorded = [
        (r.function, r.version, r.result is not None and r.result.function_error is not None)
        for r in gw.recorder.records
    ]
    assert recorded == [("quote", 3, False), ("quote", 3, True), ("quote", 3, True)]


async def test_mock_status_selection_and_overrides(gw: Gateway) -> None:
    status, headers, body = await call(gw, "GET", "/Prod/mock")
    assert (status, body) == (200, {"found": True})
    assert headers["content-type"] == "application/vnd.mock+json"
    assert headers["x_override"] == "set"
    assert (await call(gw, "GET", "/Prod/mock?missing=yes"))[0::2] == (404, {"found": False})


async def test_passthrough_when_no_templates_refuses_another_type(gw: Gateway) -> None:
    assert (await call(gw, "POST", "/Prod/strict", b"{}", {"Content-Type": "application/json"}))[
        0
    ] == 415
    assert (await call(gw, "POST", "/Prod/strict", b"<a/>", {"Content-Type": "application/xml"}))[
        0
    ] == 200


async def test_what_api_gateway_answers_when_the_integration_fails(gw: Gateway) -> None:
    # past TimeoutInMillis
    assert (await call(gw, "POST", "/Prod/slow"))[0::2] == (
        504,
        {"message": "Endpoint request timed out"},
    )
    # a template that does not parse; a service canaria does not serve; no response matches
    for path, method in (
        ("/Prod/broken", "POST"),
        ("/Prod/nowhere", "GET"),
        ("/Prod/unmatched", "GET"),
    ):
        assert (await call(gw, method, path))[0::2] == (500, {"message": "Internal server error"})


async def test_an_http_proxy_forwards_the_request_and_its_answer(
    gw: Gateway, backend: Backend
) -> None:
    backend.answers["/echo/a/b"] = (201, "text/plain", b"made")
    status, headers, body = await call(
        gw, "PUT", "/Prod/proxy/a/b?x=1", b"payload", {"X-Custom": "c"}
    )
    assert (status, body, headers["x-backend"]) == (201, b"made", "yes")
    (sent,) = backend.seen
    assert (sent["method"], sent["path"], sent["query"], sent["body"]) == (
        "PUT",
        "/echo/a/b",
        {"x": "1"},
        b"payload",
    )
    assert sent["headers"]["x-custom"] == "c"


async def test_an_http_apis_service_integrations_call_their_actions(
    gw: Gateway, backend: Backend
) -> None:
    # SQS through its query API, whose XML answer the client gets as it is
    answer = b"<SendMessageResponse><SendMessageResult><MessageId>m-2</MessageId>"
    backend.answers["/"] = (200, "text/xml", answer + b"</SendMessageResult></SendMessageResponse>")
    status, headers, body = await call(
        gw, "POST", "/events", b'{"text": "queued"}', {"X-Group": "g1"}
    )
    assert (status, headers["content-type"]) == (200, "text/xml")
    assert body.startswith(answer)
    (sent,) = backend.seen
    assert dict(parse_qsl(sent["body"].decode())) == {
        "Action": "SendMessage",
        "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
        "MessageBody": "queued",
        "MessageGroupId": "group-g1",  # ${request.header.x-group} within text
        "DelaySeconds": "5",
    }
    # Step Functions' parameters in its API's camelCase; $request.path.* within text
    backend.answers["/"] = (200, "application/x-amz-json-1.0", b'{"executionArn": "e"}')
    status, _, body = await call(gw, "POST", "/runs/nightly", b'{"n": 1}')
    assert (status, body) == (200, {"executionArn": "e"})
    started = backend.seen[-1]
    assert started["headers"]["x-amz-target"] == "AWSStepFunctions.StartExecution"
    assert json.loads(started["body"]) == {
        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:m",
        "input": '{"n": 1}',
        "name": "run-nightly",
    }


MAPPED_SOCKETS = WebSocketApiSpec(
    "Sockets",
    "ws",
    "$request.body.action",
    (
        WebSocketRoute(
            "$connect",
            "",
            integration=IntegrationSpec(
                "mock",
                request_templates=(
                    (
                        "$default",
                        "#if($input.params('deny') == \"1\")"
                        '{"statusCode": 403}#else{"statusCode": 200}#end',
                    ),
                ),
                responses=(IntegrationResponseSpec(0),),
            ),
        ),
        WebSocketRoute(
            "pick",
            "",
            two_way=True,
            integration=IntegrationSpec(
                "mock",
                request_templates=(
                    ("a", '{"statusCode": 200}'),
                    ("$default", '{"statusCode": 404}'),
                ),
                template_selection="$request.body.kind",
                responses=(
                    IntegrationResponseSpec(0, "200", (("$default", '{"picked": "a"}'),)),
                    IntegrationResponseSpec(0, None, (("$default", '{"picked": "default"}'),)),
                ),
            ),
        ),
        WebSocketRoute(
            "store",
            "",
            two_way=True,
            integration=IntegrationSpec(
                "aws",
                aws=AwsTarget("sqs", None, "123456789012/messages"),
                request_parameters=(
                    (
                        "integration.request.header.Content-Type",
                        "'application/x-www-form-urlencoded'",
                    ),
                ),
                request_templates=(
                    (
                        "$default",
                        "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
                        "&MessageAttribute.1.Value.StringValue=$context.connectionId",
                    ),
                ),
                template_selection="\\$default",
                responses=(
                    IntegrationResponseSpec(
                        0,
                        None,
                        (
                            (
                                "$default",
                                '{"stored": "$input.path('
                                "'$.SendMessageResponse.SendMessageResult.MessageId')\"}",
                            ),
                        ),
                    ),
                ),
            ),
        ),
    ),
)


async def test_a_websocket_route_to_a_service_and_a_mock_connect(
    gw: Gateway, backend: Backend
) -> None:
    gw.server.websockets.configure({"Sockets": MAPPED_SOCKETS})
    url = f"ws://127.0.0.1:{gw.server.port}/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url + "?deny=1"):
            pass
    assert refused.value.response.status_code == 403  # the mock's status, not 2xx
    backend.answers["/123456789012/messages"] = (
        200,
        "text/xml",
        b"<SendMessageResponse><SendMessageResult><MessageId>m-9</MessageId>"
        b"</SendMessageResult></SendMessageResponse>",
    )
    async with connect(url) as ws:
        # the request template a message's field selects (TemplateSelectionExpression)
        for kind, picked in (("a", "a"), ("b", "default")):
            await ws.send(json.dumps({"action": "pick", "kind": kind}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"picked": picked}
        await ws.send('{"action": "store", "n": 1}')
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"stored": "m-9"}
    (sent,) = backend.seen
    form = dict(parse_qsl(sent["body"].decode()))
    assert form["Action"] == "SendMessage" and form["MessageBody"] == '{"action": "store", "n": 1}'
    assert len(form["MessageAttribute.1.Value.StringValue"]) > 8  # $context.connectionId


async def test_a_workflow_answers_a_websocket_client_through_apigateway_invoke(
    gw: Gateway,
) -> None:
    """``arn:aws:states:::apigateway:invoke`` of ``/@connections/{id}``, as a Step Functions
    workflow started by a WebSocket route posts its result back to the client."""
    gw.server.websockets.configure({"Sockets": MAPPED_SOCKETS})
    tasks = PlatformTasks(gw.invoker, "127.0.0.1", gw.server.port, None, gw.server.websockets)
    invoke = "arn:aws:states:::apigateway:invoke"
    async with connect(f"ws://127.0.0.1:{gw.server.port}/ws") as ws:
        (connection_id,) = gw.server.websockets.connections
        endpoint = "sockets.execute-api.us-east-1.amazonaws.com"
        call = {"ApiEndpoint": endpoint, "Stage": "ws", "Path": f"/@connections/{connection_id}"}
        posted = await tasks.run(
            invoke, {**call, "Method": "POST", "RequestBody": {"done": 1}}, timeout_s=None
        )
        assert posted["StatusCode"] == 200
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"done": 1}
        described = await tasks.run(invoke, {**call, "Method": "GET"}, timeout_s=None)
        assert set(described["ResponseBody"]) == {"connectedAt", "identity", "lastActiveAt"}
        # another API's id, or a closed connection: API Gateway's GoneException
        other = {**call, "ApiEndpoint": "other.execute-api.us-east-1.amazonaws.com"}
        with pytest.raises(TaskFailed) as gone:
            await tasks.run(invoke, {**other, "Method": "POST", "RequestBody": "x"}, timeout_s=None)
        assert gone.value.error == "ApiGateway.410"
        deleted = await tasks.run(invoke, {**call, "Method": "DELETE"}, timeout_s=None)
        assert deleted["StatusCode"] == 204
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 10)
