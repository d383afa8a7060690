"""A ``python3.N`` function through a real `canaria up` on this machine's Python 3.N: the
worker's packages installed for it as the release is built, its requirements and its
layer's (``BuildMethod: python3.N``) installed by that Python's pip."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria import pythons
from tests.functional.harness import Canaria, write_app

OTHER = next(
    (line for line in ("3.12", "3.13", "3.10") if line != pythons.RUNNING and pythons.find(line)),
    None,
)
pytestmark = pytest.mark.skipif(OTHER is None, reason="needs a second Python 3 on this machine")

TEMPLATE = f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  VersionFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python{OTHER}
      Handler: app.handler
      CodeUri: src
      Layers: [!Ref Deps]
      Events:
        Version:
          Type: HttpApi
          Properties: {{Path: /version, Method: GET}}
  Deps:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer
    Metadata:
      BuildMethod: python{OTHER}
"""

APP = """\
import json, sys
import markupsafe._speedups as speedups
import yaml._yaml as libyaml

def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({
        "python": ".".join(map(str, sys.version_info[:3])),
        "speedups": speedups.__file__.rsplit("/", 1)[-1],
        "layer": libyaml.__file__.rsplit("/", 1)[-1],
    })}
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    template = write_app(
        tmp_path / "app",
        {
            "template.yaml": TEMPLATE,
            "src/app.py": APP,
            "src/requirements.txt": "markupsafe==3.0.3\n",
            "layer/requirements.txt": "pyyaml==6.0.3\n",
        },
    )
    c = Canaria(template, tmp_path / "state")
    # a share of its own: the worker's packages for that Python are not there yet
    c.env["CANARIA_NODE_MODULES"] = str(tmp_path / "share" / "node_modules")
    yield c.start()
    c.stop()


def test_a_python_function_runs_on_its_own_version(app: Canaria, tmp_path: Path) -> None:
    found = pythons.find(str(OTHER))
    assert found is not None
    status, _, body = app.http("GET", "/version")
    assert status == 200, body
    got = json.loads(body)
    assert got["python"] == found.version
    built_for = f"cpython-{str(OTHER).replace('.', '')}"
    assert built_for in got["speedups"] and built_for in got["layer"], got
    log = app.log.read_text()
    assert f"execution SDK) for this machine's Python {OTHER} (once)" in log
    assert f"runtime    python{OTHER} on Python {found.version}  (VersionFunction)" in log
    site = tmp_path / "share" / "python" / str(OTHER) / "site"
    assert (site / "boto3").is_dir() and (site / "aws_durable_execution_sdk_python").is_dir()
    assert app.status()["functions"]["VersionFunction"]["python"] == found.version
    said = app.cli("validate", "-t", str(app.template))
    assert said.returncode == 0 and f"python{OTHER}" not in said.stderr, said.stderr
