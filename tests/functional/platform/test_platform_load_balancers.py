"""An Application Load Balancer in front of a Python and a Node.js function, through a
real `canaria up`: a listener per port, its HTTP listener redirecting to its HTTPS one
(served here as plain HTTP on a port of its own), rules by path, ALB's event read by each
runtime (multi-value headers for the Node.js group), the listener ports kept across a
restart, and a canary deployed behind the load balancer judged on its traffic and rolled
back."""

from __future__ import annotations

import http.client
import json
import urllib.parse
from pathlib import Path

from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: orders
      AutoPublishAlias: live
      DeploymentPreference: {Type: Canary10Percent5Minutes}
  Hello:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: hello
  LB:
    Type: AWS::ElasticLoadBalancingV2::LoadBalancer
    Properties: {Scheme: internet-facing, Subnets: [subnet-1, subnet-2]}
  OrdersGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      TargetType: lambda
      Targets: [{Id: !Ref Orders.Alias}]
  HelloGroup:
    Type: AWS::ElasticLoadBalancingV2::TargetGroup
    Properties:
      TargetType: lambda
      Targets: [{Id: !GetAtt Hello.Arn}]
      TargetGroupAttributes: [{Key: lambda.multi_value_headers.enabled, Value: "true"}]
  Http:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 80
      Protocol: HTTP
      DefaultActions:
        - Type: redirect
          RedirectConfig: {Protocol: HTTPS, Port: "443", StatusCode: HTTP_301}
  Https:
    Type: AWS::ElasticLoadBalancingV2::Listener
    Properties:
      LoadBalancerArn: !Ref LB
      Port: 443
      Protocol: HTTPS
      Certificates: [{CertificateArn: arn:aws:acm:us-east-1:123456789012:certificate/x}]
      DefaultActions:
        - Type: fixed-response
          FixedResponseConfig:
            {StatusCode: "404", ContentType: application/json, MessageBody: '{"found": false}'}
  OrdersRule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Https
      Priority: 10
      Conditions: [{Field: path-pattern, Values: [/orders*]}]
      Actions: [{Type: forward, TargetGroupArn: !Ref OrdersGroup}]
  HelloRule:
    Type: AWS::ElasticLoadBalancingV2::ListenerRule
    Properties:
      ListenerArn: !Ref Https
      Priority: 20
      Conditions:
        - {Field: path-pattern, PathPatternConfig: {Values: [/hello]}}
        - {Field: http-request-method, HttpRequestMethodConfig: {Values: [GET, POST]}}
      Actions: [{Type: forward, TargetGroupArn: !Ref HelloGroup}]
Outputs:
  Orders: {Value: !Sub "https://${LB.DNSName}/orders"}
  Dns: {Value: !GetAtt LB.DNSName}
"""

ORDERS = """\
import json

def handler(event, context):
    answer = RELEASE
    return {
        "statusCode": 200,
        "statusDescription": "200 OK",
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"release": answer, "path": event["path"],
                            "query": event["queryStringParameters"],
                            "proto": event["headers"]["x-forwarded-proto"],
                            "group": event["requestContext"]["elb"]["targetGroupArn"],
                            "arn": context.invoked_function_arn}),
    }
"""

HELLO = """\
exports.handler = async (event) => ({
  statusCode: 200,
  statusDescription: "200 OK",
  isBase64Encoded: false,
  multiValueHeaders: {
    "Content-Type": ["text/plain"],
    "Set-Cookie": ["a=1", "b=2"],
  },
  body: `hello ${event.httpMethod} ${event.multiValueQueryStringParameters.name.join("+")}`,
});
"""


def app(tmp_path: Path) -> Canaria:
    files = {
        "template.yaml": TEMPLATE,
        "orders/app.py": ORDERS.replace("RELEASE", '"v1"'),
        "hello/index.js": HELLO,
    }
    return Canaria(write_app(tmp_path / "app", files), tmp_path / "state")


def listeners(c: Canaria) -> dict[str, str]:
    served = c.status()["load_balancers"]
    return {name: listener["url"] for name, listener in served.items()}


def send(url: str, method: str = "GET") -> tuple[int, http.client.HTTPMessage, bytes]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""))
        answer = conn.getresponse()
        return answer.status, answer.headers, answer.read()
    finally:
        conn.close()


def test_the_listeners_route_redirect_and_answer_as_alb(tmp_path: Path) -> None:
    c = app(tmp_path).start()
    try:
        urls = listeners(c)
        assert set(urls) == {"Http", "Https"}
        status, headers, _ = send(urls["Http"] + "orders/7?x=1")
        assert status == 301
        location = headers["Location"]
        assert location == urls["Https"] + "orders/7?x=1"  # the HTTPS listener, here
        status, headers, body = send(location)
        assert status == 200, body
        order = json.loads(body)
        assert order["release"] == "v1"
        assert (order["path"], order["query"], order["proto"]) == ("/orders/7", {"x": "1"}, "https")
        assert ":targetgroup/" in order["group"]
        assert order["arn"].endswith(":function:Orders:live")
        status, headers, body = send(urls["Https"] + "hello?name=a&name=b", "POST")
        assert (status, body) == (200, b"hello POST a+b"), body
        assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
        assert send(urls["Https"] + "hello", "DELETE")[:3:2] == (404, b'{"found": false}')
        printed = c.cli("status")
        assert urls["Https"] in printed.stdout and "HTTPS:443" in printed.stdout, printed.stdout
        # the stack's outputs name the balancer where its listeners are served
        stack = c.aws("cloudformation").describe_stacks()["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
        assert outputs["Orders"] == urls["Https"] + "orders"
        assert "http://" + outputs["Dns"] + "/" == urls["Http"]  # a bare name: port 80's

        c.stop()
        c.start()
        assert listeners(c) == urls  # the same ports after a restart
        assert send(urls["Https"] + "orders")[0] == 200

        c.template.write_text(TEMPLATE.replace("Values: [/hello]", "Values: [/hi]"))
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        assert listeners(c) == urls  # the same listeners, their rules changed
        assert send(urls["Https"] + "hi?name=c")[2] == b"hello GET c"
        assert send(urls["Https"] + "hello?name=c")[0] == 404
    finally:
        c.stop()


def test_a_canary_behind_the_load_balancer_is_judged_and_rolled_back(tmp_path: Path) -> None:
    c = app(tmp_path).start()
    try:
        orders = listeners(c)["Https"] + "orders"
        assert send(orders)[0] == 200
        (c.template.parent / "orders" / "app.py").write_text(ORDERS.replace("RELEASE", "1 / 0"))
        r = c.cli("deploy", "-t", str(c.template), "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        (started,) = json.loads(r.stdout)["deployments"]
        d, failed = c.serve_canary(started["id"], lambda: send(orders)[0] == 502)
        assert d["state"] == "Stopped" and d["rolled_back"], d
        assert 1 <= failed <= 10, failed  # a handful of failed requests (4 when measured)
        assert c.alias("Orders")["split"] == {"1": 1.0}
        assert json.loads(send(orders)[2])["release"] == "v1"
    finally:
        c.stop()
