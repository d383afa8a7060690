"""Container image functions through a real `canaria up`, built from their Dockerfiles
without Docker: a Python image whose RUN installs a wheel with pip (its ENV under the
template's Environment, a second function on the same image with ImageConfig.Command),
a multi-stage Node.js image whose first stage runs `npm run build`; a change to the
context is a new version deployed like any other; a RUN canaria cannot run is refused at
its Dockerfile line, and the running version stays."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app
from tests.wheels import probe_wheel

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Environment: {Variables: {MODE: template}}
      Events:
        Get: {Type: HttpApi, Properties: {Path: /py, Method: GET}}
    Metadata:
      Dockerfile: Dockerfile
      DockerContext: ./py
      DockerTag: python3.11-v1
  Other:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      ImageConfig: {Command: [app.other]}
      Events:
        Get: {Type: HttpApi, Properties: {Path: /other, Method: GET}}
    Metadata:
      Dockerfile: Dockerfile
      DockerContext: ./py
  Node:
    Type: AWS::Serverless::Function
    Properties:
      PackageType: Image
      Events:
        Get: {Type: HttpApi, Properties: {Path: /node, Method: GET}}
    Metadata:
      Dockerfile: Dockerfile
      DockerContext: ./node
      DockerBuildArgs: {NODE_LINE: "20"}
"""

PY_DOCKERFILE = """\
FROM public.ecr.aws/lambda/python:3.11

ENV GREETING=hello MODE=image
COPY requirements.txt ${LAMBDA_TASK_ROOT}/
COPY wheels/ ./wheels/
RUN pip install --no-cache-dir -r requirements.txt && rm -rf wheels
COPY app.py ${LAMBDA_TASK_ROOT}/

CMD ["app.handler"]
"""

PY_APP = """\
import json, os
import probe

def handler(event, context):
    body = {"answer": probe.ANSWER, "greeting": os.environ["GREETING"],
            "mode": os.environ["MODE"], "wheels": os.path.exists("wheels"), "rev": "REV"}
    return {"statusCode": 200, "body": json.dumps(body)}

def other(event, context):
    return {"statusCode": 200, "body": "other"}
"""

NODE_DOCKERFILE = """\
ARG NODE_LINE=18
FROM public.ecr.aws/lambda/nodejs:${NODE_LINE} AS build
WORKDIR /usr/src
COPY package.json build.js ./
RUN npm install --no-audit --no-fund && \\
    npm run build

FROM public.ecr.aws/lambda/nodejs:${NODE_LINE}
COPY --from=build /usr/src/dist/ ${LAMBDA_TASK_ROOT}/
CMD ["app.handler"]
"""

NODE_BUILD = """\
const fs = require('fs');
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/app.js', `exports.handler = async () => ({
  statusCode: 200, body: JSON.stringify({ built: true, node: process.version.split('.')[0] })
});\\n`);
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    root = tmp_path / "app"
    name = probe_wheel(root / "py" / "wheels")
    files = {
        "template.yaml": TEMPLATE,
        "py/Dockerfile": PY_DOCKERFILE,
        "py/requirements.txt": f"./wheels/{name}\n",
        "py/app.py": PY_APP.replace("REV", "1"),
        "node/Dockerfile": NODE_DOCKERFILE,
        "node/package.json": json.dumps({"name": "n", "scripts": {"build": "node build.js"}}),
        "node/build.js": NODE_BUILD,
    }
    c = Canaria(write_app(root, files), tmp_path / "state").start(timeout=300)
    yield c
    c.stop()


def test_image_functions_run_what_their_dockerfiles_build(app: Canaria) -> None:
    status, _, body = app.http("GET", "/py")
    assert status == 200, body
    assert json.loads(body) == {
        "answer": 42,  # pip installed the wheel into the image's site-packages
        "greeting": "hello",  # the image's ENV
        "mode": "template",  # under the template's Environment
        "wheels": False,  # RUN's rm ran in the image's working directory
        "rev": "1",
    }
    assert app.http("GET", "/other")[2] == b"other"
    status, _, body = app.http("GET", "/node")
    assert status == 200, body
    assert json.loads(body) == {"built": True, "node": app_node_major(app)}

    # the context changed: a new version, deployed
    (app.template.parent / "py" / "app.py").write_text(PY_APP.replace("REV", "2"))
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    (deployment,) = json.loads(r.stdout)["deployments"]
    assert [(t["function"], t["to_version"]) for t in deployment["targets"]] == [("Py", 2)]
    assert app.wait_deployment(deployment["id"])["state"] == "Succeeded"
    assert json.loads(app.http("GET", "/py")[2])["rev"] == "2"

    # a RUN canaria cannot run: refused at its line; version 2 keeps serving
    dockerfile = app.template.parent / "py" / "Dockerfile"
    dockerfile.write_text(PY_DOCKERFILE.replace("COPY app.py", "RUN make all\nCOPY app.py"))
    r = app.cli("deploy", "-t", str(app.template), "--json")
    assert r.returncode != 0
    assert f"{dockerfile}:7: RUN: make all" in r.stdout + r.stderr, r.stdout + r.stderr
    assert json.loads(app.http("GET", "/py")[2])["rev"] == "2"


def app_node_major(app: Canaria) -> str:
    """The Node.js major the function runs on: the image's tag (a build argument), when
    this machine has or installs it, else the installed one (the warning says so)."""
    runtime = app.status()["functions"]["Node"]["runtime"]
    return f"v{runtime.removeprefix('nodejs').removesuffix('.x')}"
