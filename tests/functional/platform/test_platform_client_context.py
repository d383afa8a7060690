"""An Invoke's ``ClientContext`` reaches the handler's context, in Node.js and in Python,
through a real `canaria up`, real boto3 and real ``node``; a declared ``FunctionName``
names its function."""

from __future__ import annotations

import base64
import json
import shutil
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  NodeFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: nodejs20.x
      Handler: index.handler
      CodeUri: node
      AutoPublishAlias: live
  PythonFunction:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: notes-python
      Runtime: python3.11
      Handler: app.handler
      CodeUri: python
      AutoPublishAlias: live
"""

NODE = """
exports.handler = async (event, context) => ({
  clientContext: context.clientContext === undefined ? "undefined" : context.clientContext,
});
"""

PYTHON = textwrap.dedent(
    """
    def handler(event, context):
        cc = context.client_context
        if cc is None:
            return {"clientContext": None}
        client = cc.client
        return {
            "custom": cc.custom,
            "env": cc.env,
            "installation_id": client.installation_id if client else None,
            "app_title": client.app_title if client else None,
        }
    """
)

CONTEXT = {
    "client": {"installation_id": "inst-1", "app_title": "Notes"},
    "custom": {"tenant": "acme", "deep": {"n": 1}},
    "env": {"locale": "fr_FR"},
}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp_path = tmp_path_factory.mktemp("client_context")
    root = tmp_path / "app"
    (root / "node").mkdir(parents=True)
    (root / "python").mkdir()
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "node" / "index.js").write_text(NODE)
    (root / "python" / "app.py").write_text(PYTHON)
    c = Canaria(root / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def invoke(c: Canaria, function: str, **kw: Any) -> Any:
    out = c.aws("lambda").invoke(FunctionName=function, Qualifier="live", Payload=b"{}", **kw)
    assert "FunctionError" not in out, out
    return json.loads(out["Payload"].read())


def encoded(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def test_client_context_reaches_node_and_python_handlers(app: Canaria) -> None:
    assert invoke(app, "NodeFunction", ClientContext=encoded(CONTEXT)) == {"clientContext": CONTEXT}
    assert invoke(app, "PythonFunction", ClientContext=encoded(CONTEXT)) == {
        "custom": CONTEXT["custom"],
        "env": CONTEXT["env"],
        "installation_id": "inst-1",
        "app_title": "Notes",
    }
    # the next request on the same warm environments carries none
    assert invoke(app, "NodeFunction") == {"clientContext": "undefined"}
    assert invoke(app, "PythonFunction") == {"clientContext": None}
    # only custom: no client object, as Lambda's Python runtime builds it
    assert invoke(app, "PythonFunction", ClientContext=encoded({"custom": {"a": "b"}})) == {
        "custom": {"a": "b"},
        "env": None,
        "installation_id": None,
        "app_title": None,
    }


@pytest.mark.parametrize(
    ("client_context", "message"),
    [
        ("not base64!", "Client context must be a valid Base64-encoded JSON object"),
        (base64.b64encode(b"not json").decode(), "valid Base64-encoded JSON object"),
        (encoded([1, 2]), "valid Base64-encoded JSON object"),
        (encoded({"custom": {"k": "x" * 3000}}), "at most 3583 bytes"),
    ],
)
def test_a_bad_client_context_is_refused_saying_what_is_wrong(
    app: Canaria, client_context: str, message: str
) -> None:
    lam = app.aws("lambda")
    with pytest.raises(ClientError) as raised:
        lam.invoke(FunctionName="NodeFunction", Payload=b"{}", ClientContext=client_context)
    error = raised.value.response["Error"]
    assert error["Code"] == "InvalidRequestContentException"
    assert message in error["Message"]


def test_a_declared_function_name_names_the_function(app: Canaria) -> None:
    """Code that calls Lambda by the ``FunctionName`` the template declares reaches the
    function (canaria knows it by its logical id), as its ARN or with a qualifier too."""
    assert invoke(app, "notes-python") == {"clientContext": None}
    lam = app.aws("lambda")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:notes-python:live"
    assert json.loads(lam.invoke(FunctionName=arn, Payload=b"{}")["Payload"].read()) == {
        "clientContext": None
    }
    assert lam.get_alias(FunctionName="notes-python", Name="live")["Name"] == "live"
    with pytest.raises(ClientError) as missing:
        lam.invoke(FunctionName="notes-nothing", Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
