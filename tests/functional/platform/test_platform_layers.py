"""Layers of the template through a real `canaria up`: a Python function and a Node.js
function find their layers' code where Lambda puts /opt on their paths, and a change to
a layer is a new version of every function that uses it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node on PATH")

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Layers: [!Ref Shared]
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: shared/
  Built:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: built/
    Metadata:
      BuildMethod: python3.11
  Tools:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: tools.zip
  Modules:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: modules/
  Py:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: py
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Layers: [!Ref Built, !Ref Tools]
      Events:
        Get: {Type: HttpApi, Properties: {Path: /py, Method: GET}}
  CustomRuntime:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: runtime/
  Custom:
    Type: AWS::Serverless::Function
    Properties:
      Handler: function.handler
      Runtime: provided.al2023
      CodeUri: custom
      Layers: [!Ref CustomRuntime]
      Events:
        Get: {Type: HttpApi, Properties: {Path: /custom, Method: GET}}
  Node:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: nodejs20.x
      CodeUri: node
      Layers: [!Ref Modules]
      Events:
        Get: {Type: HttpApi, Properties: {Path: /node, Method: GET}}
  Esm:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: nodejs20.x
      CodeUri: esm
      Layers: [!Ref Modules, !Ref Config]
      Events:
        Get: {Type: HttpApi, Properties: {Path: /esm, Method: GET}}
  Config:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: config/
"""

PY_HANDLER = """\
import os, subprocess
import fmt, greeting

def handler(event, context):
    tool = subprocess.run(["layer-tool"], capture_output=True, text=True).stdout.strip()
    body = {
        "greeting": fmt.shout(greeting.hello()),
        "tool": tool,
        "internal": sorted(k for k in os.environ if k.startswith("CANARIA_LAYER")),
    }
    return {"statusCode": 200, "body": __import__("json").dumps(body)}
"""


# a custom runtime in a layer (as Bref's or the bash runtime's): Lambda runs /opt/bootstrap
# when the function's code has none
BOOTSTRAP = """\
#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
while true; do
  HEADERS="$(mktemp)"
  curl -sS -LD "$HEADERS" "$API/invocation/next" > /dev/null
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  CODE=$(cat "$LAMBDA_TASK_ROOT/function.txt")
  curl -sS -X POST "$API/invocation/$ID/response" \\
    -d "{\\"statusCode\\": 200, \\"body\\": \\"runtime layer ran $CODE\\"}" > /dev/null
done
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = tmp_path / "app"
    files = {
        "template.yaml": TEMPLATE,
        "shared/python/greeting.py": 'def hello():\n    return "hello from a layer"\n',
        "built/fmt.py": "def shout(s):\n    return s.upper()\n",
        "modules/nodejs/node_modules/greet/index.js": (
            "exports.greet = (n) => `hi ${n} from a node layer`;\n"
        ),
        "modules/nodejs/node20/node_modules/greet/index.js": (
            "exports.greet = (n) => `hi ${n} from the node20 layer`;\n"
        ),
        "py/app.py": PY_HANDLER,
        "node/app.js": (
            'const {greet} = require("greet");\n'
            'exports.handler = async () => ({statusCode: 200, body: greet("you")});\n'
        ),
        # an ES module reaches a layer by its path in /opt (ES modules ignore NODE_PATH);
        # the later layer's file replaces the earlier one's, as Lambda extracts them
        "esm/app.mjs": (
            'import { config } from "/opt/nodejs/config.mjs";\n'
            'import { createRequire } from "node:module";\n'
            "const { kind } = createRequire(import.meta.url)('/opt/nodejs/kind.cjs');\n"
            "export const handler = async () => "
            "({statusCode: 200, body: `${config.name} ${kind}`});\n"
        ),
        "modules/nodejs/config.mjs": 'export const config = { name: "replaced" };\n',
        "config/nodejs/config.mjs": 'export const config = { name: "config-layer" };\n',
        "config/nodejs/kind.cjs": 'exports.kind = "required from /opt";\n',
        "tools/bin/layer-tool": "#!/bin/sh\necho tool from a zipped layer\n",
        "runtime/bootstrap": BOOTSTRAP,
        "custom/function.txt": "the function's own code\n",
    }
    write_app(root, files)
    (root / "tools" / "bin" / "layer-tool").chmod(0o755)
    (root / "runtime" / "bootstrap").chmod(0o755)
    shutil.make_archive(str(root / "tools"), "zip", root / "tools")
    shutil.rmtree(root / "tools")
    c = Canaria(root / "template.yaml", tmp_path / "state").start()
    yield c
    c.stop()


def test_functions_find_their_layers_where_lambda_puts_them(app: Canaria) -> None:
    status, _, body = app.http("GET", "/py")
    assert status == 200, body
    assert json.loads(body) == {
        "greeting": "HELLO FROM A LAYER",  # as-is layer python/, built layer's content
        "tool": "tool from a zipped layer",  # a zipped layer's bin/ on PATH
        "internal": [],  # canaria's own variable is not the handler's
    }
    status, _, body = app.http("GET", "/node")
    assert (status, body) == (200, b"hi you from the node20 layer")  # nodejs/node20 first
    status, _, body = app.http("GET", "/esm")
    assert (status, body) == (200, b"config-layer required from /opt")


def test_a_changed_layer_is_a_new_version_of_the_functions_that_use_it(app: Canaria) -> None:
    greeting = app.template.parent / "shared" / "python" / "greeting.py"
    greeting.write_text('def hello():\n    return "a new layer"\n')
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    started = json.loads(r.stdout)["deployments"]
    assert [t["function"] for d in started for t in d["targets"]] == ["Py"]
    d = app.wait_deployment(started[0]["id"])
    assert d["state"] == "Succeeded", d
    assert app.alias("Py")["split"] == {"2": 1.0}
    status, _, body = app.http("GET", "/py")
    assert status == 200 and json.loads(body)["greeting"] == "A NEW LAYER"
    assert "Node version 2" in "\n".join(json.loads(r.stdout)["plan"])
    # nothing changed since: nothing to publish
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["deployments"] == []


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_custom_runtime_in_a_layer_starts_a_function_without_a_bootstrap(app: Canaria) -> None:
    status, _, body = app.http("GET", "/custom")
    assert (status, body) == (200, b"runtime layer ran the function's own code")
