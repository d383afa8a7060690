"""AWS's public Powertools layers through a real `canaria up`: a Python and a Node.js
function that import Powertools from the layer they name by ARN, as on Lambda, find it:
canaria builds the layer from the packages it holds (pip for the function's Python, npm)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, write_app

pytestmark = pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Py:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: py
      Layers:
        - !Sub arn:aws:lambda:${AWS::Region}:017000801446:layer:AWSLambdaPowertoolsPython:9
      Events:
        Get: {Type: HttpApi, Properties: {Path: /py, Method: GET}}
  Node:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: nodejs20.x
      CodeUri: node
      Layers:
        - !Sub arn:aws:lambda:${AWS::Region}:094274105915:layer:AWSLambdaPowertoolsTypeScriptV2:12
      Events:
        Get: {Type: HttpApi, Properties: {Path: /node, Method: GET}}
"""

PY_HANDLER = """\
import json
from aws_lambda_powertools import Logger
from importlib.metadata import version

logger = Logger(service="probe")

def handler(event, context):
    logger.info("from the layer")
    return {"statusCode": 200, "body": json.dumps({"powertools": version("aws-lambda-powertools")})}
"""

NODE_HANDLER = """\
const { Logger } = require('@aws-lambda-powertools/logger');
const logger = new Logger({ serviceName: 'probe' });
exports.handler = async () => {
  logger.info('from the layer');
  const entry = require.resolve('@aws-lambda-powertools/logger');  // its package.json is
  const root = entry.slice(0, entry.lastIndexOf('/lib/'));            // not exported
  const { version } = JSON.parse(require('fs').readFileSync(root + '/package.json', 'utf8'));
  return { statusCode: 200, body: JSON.stringify({ powertools: version }) };
};
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Canaria]:
    files = {"template.yaml": TEMPLATE, "py/app.py": PY_HANDLER, "node/app.js": NODE_HANDLER}
    c = Canaria(write_app(tmp_path / "app", files), tmp_path / "state").start(timeout=300)
    yield c
    c.stop()


def test_functions_import_powertools_from_the_public_layer_they_name(app: Canaria) -> None:
    for path, major in (("/py", "1."), ("/node", "2.")):
        status, _, body = app.http("GET", path)
        assert status == 200, body
        assert json.loads(body)["powertools"].startswith(major), body
    assert "AWS's public Powertools layer" in app.output()
    logged = app.cli("logs", "Py").stdout + app.cli("logs", "Node").stdout
    assert logged.count('"from the layer"') == 2, logged
