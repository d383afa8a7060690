"""Stand-ins on loopback for what moto's server does not do: answer as AWS does when a
quota is exceeded or a role lacks a permission, and list a stack's nested stacks (moto's
CloudFormation creates no CodeDeploy resources)."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Quiet(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers in one call."""

    def answer(self, status: int, data: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


class Loopback:
    """``handler`` served on a free loopback port by a thread until ``close``."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def cbor_text_map(fields: dict[str, str]) -> bytes:
    """A CBOR map of short text strings (what an rpc-v2-cbor error body holds)."""

    def text(value: str) -> bytes:
        raw = value.encode()
        assert len(raw) < 256
        return (bytes([0x60 + len(raw)]) if len(raw) < 24 else bytes([0x78, len(raw)])) + raw

    assert len(fields) < 24
    return bytes([0xA0 + len(fields)]) + b"".join(text(k) + text(v) for k, v in fields.items())


class ThrottlingProxy:
    """Forwards every AWS call to moto's server, except the operations in ``throttle``,
    answered as AWS does when a quota is exceeded, and those in ``deny``, answered as when
    the caller's role does not allow them."""

    def __init__(self, upstream: str) -> None:
        self.throttle: set[str] = set()
        self.deny: set[str] = set()
        self.throttled = 0
        outer = self
        host, port = upstream.removeprefix("http://").split(":")

        class Handler(Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                cbor = self.path.startswith("/service/")  # CloudWatch: rpc-v2-cbor
                if cbor:
                    operation = self.path.rsplit("/", 1)[-1]
                refused = operation in outer.deny or operation in outer.throttle
                if refused:
                    status = 400
                    if operation in outer.deny:
                        fields = {"__type": "AccessDeniedException", "message": "not authorized"}
                    else:
                        outer.throttled += 1
                        fields = {"__type": "ThrottlingException", "message": "Rate exceeded"}
                    if cbor:
                        headers = [
                            ("Content-Type", "application/cbor"),
                            ("smithy-protocol", "rpc-v2-cbor"),
                        ]
                        data = cbor_text_map(fields)
                    else:
                        headers = [("Content-Type", "application/x-amz-json-1.1")]
                        data = json.dumps(fields).encode()
                else:
                    conn = http.client.HTTPConnection(host, int(port), timeout=30)
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                    conn.request("POST", self.path, body=body, headers=forwarded)
                    resp = conn.getresponse()
                    status, data = resp.status, resp.read()
                    headers = [
                        (k, v)
                        for k, v in resp.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")
                    ]
                    conn.close()
                self.answer(status, data, headers)

        self.http = Loopback(Handler)
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()


NESTED = "arn:aws:cloudformation:eu-west-1:123456789012:stack/parent-app-HelloApp-1ABC/0a1b"


class NestedStacks:
    """CloudFormation's ListStackResources on loopback (query protocol, XML answers) for
    a stack whose functions live in a nested stack, as a SAM ``AWS::Serverless::Application``
    makes one: moto's CloudFormation creates no CodeDeploy resources to list."""

    def __init__(self, function_name: str) -> None:
        self.stacks = {
            "parent-app": [("HelloApp", NESTED, "AWS::CloudFormation::Stack")],
            NESTED: [
                ("ServerlessDeploymentApplication", "my-app", "AWS::CodeDeploy::Application"),
                ("HelloFunctionDeploymentGroup", "HelloGroup", "AWS::CodeDeploy::DeploymentGroup"),
                ("HelloFunction", function_name, "AWS::Lambda::Function"),
            ],
        }
        self.asked: list[str] = []
        outer = self

        class Handler(Quiet):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                form = urllib.parse.parse_qs(body.decode())
                assert form["Action"] == ["ListStackResources"], form
                stack = form["StackName"][0]
                outer.asked.append(stack)
                members = "".join(
                    f"<member><LogicalResourceId>{logical}</LogicalResourceId>"
                    f"<PhysicalResourceId>{physical}</PhysicalResourceId>"
                    f"<ResourceType>{kind}</ResourceType>"
                    "<LastUpdatedTimestamp>2026-11-30T00:00:00Z</LastUpdatedTimestamp>"
                    "<ResourceStatus>CREATE_COMPLETE</ResourceStatus></member>"
                    for logical, physical, kind in outer.stacks[stack]
                )
                data = (
                    '<ListStackResourcesResponse xmlns="http://cloudformation.amazonaws.com/'
                    'doc/2010-05-15/"><ListStackResourcesResult><StackResourceSummaries>'
                    f"{members}</StackResourceSummaries></ListStackResourcesResult>"
                    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                    "</ListStackResourcesResponse>"
                ).encode()
                self.answer(200, data, [("Content-Type", "text/xml")])

        self.http = Loopback(Handler)
        self.url = self.http.url

    def close(self) -> None:
        self.http.close()
