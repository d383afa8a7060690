"""A function moved from one Node.js runtime to the next through a real `canaria up`: the
new line is installed from the npm registry as the release is built, and a handler that
line refuses fails the PreTraffic hook before any traffic reaches it, as on Lambda."""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import EXAMPLES, Canaria, write_app

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="needs node and npm"
)

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  NodeRuntime: {Type: String, Default: nodejs20.x}
Resources:
  VersionFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: !Ref NodeRuntime
      Handler: app.handler
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference:
        Type: AllAtOnce
        Hooks: {PreTraffic: !Ref PreTrafficHook}
      Events:
        Version:
          Type: HttpApi
          Properties: {Path: /hello, Method: GET}
  PreTrafficHook:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: pre_traffic.handler
      CodeUri: hooks
      Timeout: 30
      Environment:
        Variables:
          NewVersion: !Ref VersionFunction.Version
"""

CALLBACK = """\
exports.handler = function (event, context, callback) {
  callback(null, { statusCode: 200, body: process.version });
};
"""

ASYNC = """\
exports.handler = async () => ({ statusCode: 200, body: process.version });
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(
        tmp_path / "app",
        {
            "template.yaml": TEMPLATE,
            "src/app.js": CALLBACK,
            "hooks/pre_traffic.py": (EXAMPLES / "hello/hooks/pre_traffic.py").read_text(),
        },
    )
    c = Canaria(template, tmp_path / "state")
    # a share of its own: Node.js 24 is not there yet, so `up` installs it
    c.env["CANARIA_NODE_MODULES"] = str(tmp_path / "share" / "node_modules")
    yield c.start()
    c.stop()


def deploy(c: Canaria, runtime: str) -> dict[str, object]:
    r = c.cli(
        "deploy",
        "-t",
        str(c.template),
        "--parameter-overrides",
        f"NodeRuntime={runtime}",
        "--json",
    )
    assert r.returncode in (0, 1), r.stderr
    (deployment,) = json.loads(r.stdout)["deployments"]
    return c.wait_deployment(str(deployment["id"]))


def test_moving_a_callback_handler_to_nodejs24_fails_before_traffic(
    app: Canaria, tmp_path: Path
) -> None:
    status, _, body = app.http("GET", "/hello")
    assert status == 200 and body.startswith(b"v20."), body
    assert "runtime    nodejs20.x on Node.js v20." in app.log.read_text()

    said = app.cli(
        "validate", "-t", str(app.template), "--parameter-overrides", "NodeRuntime=nodejs24.x"
    )
    assert said.returncode == 0, said.stderr
    assert "Node.js 24 is installed from the npm registry" in said.stderr

    d = deploy(app, "nodejs24.x")
    assert d["state"] == "Failed", d
    assert "Runtime.CallbackHandlerDeprecated" in app.cli("logs", "PreTrafficHook").stdout
    assert (tmp_path / "share" / "node" / "24").is_dir()
    status, _, body = app.http("GET", "/hello")
    assert status == 200 and body.startswith(b"v20."), body  # no traffic moved

    (app.template.parent / "src" / "app.js").write_text(ASYNC)
    d = deploy(app, "nodejs24.x")
    assert d["state"] == "Succeeded", d
    status, _, body = app.http("GET", "/hello")
    assert status == 200 and body.startswith(b"v24."), body
    shown = app.status()["functions"]["VersionFunction"]
    assert shown["runtime"] == "nodejs24.x" and shown["node"] == body.decode()
    hook = app.status()["functions"]["PreTrafficHook"]
    assert hook["node"] is None and hook["python"] == platform.python_version()
    log = app.log.read_text()
    assert log.count("installing Node.js 24 from the npm registry") == 1, log
