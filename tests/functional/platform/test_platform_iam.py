"""``AWS_IAM`` authorization through a real `canaria up`: a REST API, an HTTP API and a
function URL that answer only SigV4-signed requests. They are signed the ways real
callers sign them: botocore's signer with the keys `canaria env` exports, a Python
function's boto3 credentials, and a Node.js function's SDK v3 signer
(``@smithy/signature-v4``) with its default credential chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from canaria.auth import access_key_id, secret_access_key
from tests.functional.harness import Canaria, write_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Secure:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      Auth: {DefaultAuthorizer: AWS_IAM}
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {EnableIamAuthorizer: true, DefaultAuthorizer: AWS_IAM}
  Who:
    Type: AWS::Serverless::Function
    Properties:
      Handler: who.handler
      Runtime: python3.11
      CodeUri: src
      FunctionUrlConfig: {AuthType: AWS_IAM}
      Events:
        Rest:
          Type: Api
          Properties: {RestApiId: !Ref Secure, Path: /who, Method: any}
        Open:
          Type: Api
          Properties: {RestApiId: !Ref Secure, Path: /open, Method: get, Auth: {Authorizer: NONE}}
        Http:
          Type: HttpApi
          Properties: {ApiId: !Ref Http, Path: /who, Method: get}
  PyCaller:
    Type: AWS::Serverless::Function
    Properties:
      Handler: caller.handler
      Runtime: python3.11
      CodeUri: src
  NodeCaller:
    Type: AWS::Serverless::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      CodeUri: node
"""

WHO = """\
import json

def handler(event, context):
    ctx = event["requestContext"]
    return {"statusCode": 200, "body": json.dumps({
        "identity": ctx.get("identity"),
        "authorizer": ctx.get("authorizer"),
        "body": event.get("body"),
        "query": event.get("queryStringParameters"),
    })}
"""

# A function calling an IAM-authorized API with its execution role's credentials, signed
# with botocore's SigV4Auth (the way the AWS knowledge center shows for Python).
PY_CALLER = """\
import json
import urllib.request

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

def handler(event, context):
    credentials = boto3.Session().get_credentials()
    request = AWSRequest(method="GET", url=event["url"])
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    signed = urllib.request.Request(event["url"], headers=dict(request.headers))
    with urllib.request.urlopen(signed) as r:
        return {"status": r.status, "body": json.loads(r.read())}
"""

# The same from Node.js, with the SDK v3's own signer and credential chain.
NODE_CALLER = """\
const crypto = require("crypto");
const http = require("http");
const { SignatureV4 } = require("@smithy/signature-v4");
const { defaultProvider } = require("@aws-sdk/credential-provider-node");

class Sha256 {
  constructor(secret) {
    this.hash = secret ? crypto.createHmac("sha256", secret) : crypto.createHash("sha256");
  }
  update(data) { this.hash.update(data); }
  async digest() { return new Uint8Array(this.hash.digest()); }
}

exports.handler = async (event) => {
  const url = new URL(event.url);
  const signer = new SignatureV4({
    credentials: defaultProvider(), region: "us-east-1", service: "execute-api", sha256: Sha256,
  });
  const signed = await signer.sign({
    method: "GET", protocol: url.protocol, hostname: url.hostname, port: Number(url.port),
    path: url.pathname, query: {}, headers: { host: url.host },
  });
  return await new Promise((resolve, reject) => {
    const req = http.request(event.url, { headers: signed.headers }, (res) => {
      let text = "";
      res.on("data", (chunk) => { text += chunk; });
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
};
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    root = tmp_path_factory.mktemp("iam")
    files = {
        "template.yaml": TEMPLATE,
        "src/who.py": WHO,
        "src/caller.py": PY_CALLER,
        "node/index.js": NODE_CALLER,
    }
    c = Canaria(write_app(root / "app", files), root / "state").start()
    yield c
    c.stop()


def call(
    url: str,
    *,
    method: str = "GET",
    body: bytes = b"",
    sign: str | None = "execute-api",
    keys: tuple[str, str] | None = None,
    tamper: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """``url`` requested, signed for the service ``sign`` (None: not signed) with
    ``keys`` as botocore signs, then its body replaced by ``tamper`` when given."""
    headers: dict[str, str] = {}
    if sign is not None:
        assert keys is not None
        request = AWSRequest(method=method, url=url, data=body)
        SigV4Auth(Credentials(*keys), sign, "us-east-1").add_auth(request)
        headers = dict(request.headers)
    sent = tamper if tamper is not None else body
    r = urllib3.request(method, url, body=sent or None, headers=headers, retries=False)
    return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(r.data)


def operator(app: Canaria) -> tuple[str, str]:
    token = app.token()
    return access_key_id(token), secret_access_key(token)


def test_a_rest_api_answers_only_requests_signed_by_canarias_keys(app: Canaria) -> None:
    url = f"http://127.0.0.1:{app.port}/Prod/who"
    keys = operator(app)
    status, headers, body = call(url, sign=None)
    assert (status, body) == (403, {"message": "Missing Authentication Token"})
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"

    status, _, body = call(url, keys=keys)
    assert status == 200, body
    identity = body["identity"]
    assert identity["accessKey"] == keys[0]
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/canaria"
    assert identity["accountId"] == "123456789012"
    assert identity["caller"] == identity["user"] == "AIDA" + keys[0][4:]
    assert body["authorizer"] is None

    # the body and the query string are part of what is signed
    status, _, body = call(f"{url}?a=1&b=two", method="POST", body=b'{"x": 1}', keys=keys)
    assert (status, body["body"], body["query"]) == (200, '{"x": 1}', {"a": "1", "b": "two"})
    status, headers, body = call(url, method="POST", body=b'{"x": 1}', keys=keys, tamper=b"{}")
    assert status == 403 and body["message"].startswith("The request signature we calculated")
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"

    assert call(url, keys=(keys[0], "not-the-secret"))[0] == 403
    status, headers, body = call(url, keys=("AKIAIOSFODNN7EXAMPLE", "secret"))
    assert (status, body) == (
        403,
        {"message": "The security token included in the request is invalid."},
    )
    assert headers["x-amzn-errortype"] == "UnrecognizedClientException"
    status, _, body = call(url, keys=keys, sign="lambda")
    assert (status, body) == (
        403,
        {"message": "Credential should be scoped to correct service: 'execute-api'. "},
    )
    # a route that opts out is open
    status, _, body = call(f"http://127.0.0.1:{app.port}/Prod/open", sign=None)
    assert status == 200 and body["identity"]["accessKey"] is None


def test_an_http_api_and_a_function_url_give_the_caller_as_authorizer_iam(app: Canaria) -> None:
    keys = operator(app)
    url = f"http://127.0.0.1:{app.port}/who"
    assert call(url, sign=None)[::2] == (403, {"message": "Forbidden"})
    status, _, body = call(url, keys=keys)
    assert status == 200, body
    assert body["authorizer"] == {
        "iam": {
            "accessKey": keys[0],
            "accountId": "123456789012",
            "callerId": "AIDA" + keys[0][4:],
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": "arn:aws:iam::123456789012:user/canaria",
            "userId": "AIDA" + keys[0][4:],
        }
    }
    (function_url,) = [u for f, u in app.status()["function_urls"].items() if f == "Who"]
    assert call(function_url, sign=None)[::2] == (403, {"Message": "Forbidden"})
    assert call(function_url, keys=keys)[0] == 403  # signed for execute-api, not lambda
    status, _, body = call(function_url, keys=keys, sign="lambda")
    assert status == 200 and body["authorizer"]["iam"]["accessKey"] == keys[0]


@pytest.mark.parametrize("caller", ["PyCaller", "NodeCaller"])
def test_a_function_calls_an_iam_api_with_its_own_role(app: Canaria, caller: str) -> None:
    lam = app.aws("lambda")
    url = f"http://127.0.0.1:{app.port}/Prod/who"
    out = lam.invoke(FunctionName=caller, Payload=json.dumps({"url": url}).encode())
    answer = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, answer
    assert answer["status"] == 200, answer
    identity = answer["body"]["identity"]
    assert identity["userArn"] == f"arn:aws:sts::123456789012:assumed-role/{caller}Role/{caller}"
    assert identity["accessKey"].startswith("ASIA")
    assert identity["caller"] == f"AROA{identity['accessKey'][4:]}:{caller}"
