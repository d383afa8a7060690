"""REST methods whose Lambda proxy streams (``responseTransferMode: STREAM``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2021-11-15/functions/"
    "${Fn.Arn}/response-streaming-invocations"
)


def api(mode: str) -> str:
    return f"""\
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      DefinitionBody:
        openapi: 3.0.1
        info: {{title: t, version: "1"}}
        paths:
          /story:
            post:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                {mode}
                uri: !Sub "{URI}"
"""


def method(mode: str) -> str:
    return f"""\
  Rest:
    Type: AWS::ApiGateway::RestApi
    Properties: {{Name: rest}}
  Method:
    Type: AWS::ApiGateway::Method
    Properties:
      RestApiId: !Ref Rest
      ResourceId: !GetAtt Rest.RootResourceId
      HttpMethod: GET
      AuthorizationType: NONE
      Integration:
        Type: AWS_PROXY
        IntegrationHttpMethod: POST
        {mode}
        Uri: !Sub "{URI}"
  Stage:
    Type: AWS::ApiGateway::Stage
    Properties: {{RestApiId: !Ref Rest, StageName: prod, DeploymentId: d}}
"""


@pytest.mark.parametrize(
    ("text", "key"), [(api, "responseTransferMode"), (method, "ResponseTransferMode")]
)
def test_a_rest_method_streams_only_when_its_transfer_mode_says_so(
    tmp_path: Path, text: object, key: str
) -> None:
    for mode, streamed in ((f"{key}: STREAM", True), (f"{key}: BUFFERED", False), ("", False)):
        app = load(write(tmp_path, resources(function(), text(mode))))  # type: ignore[operator]
        [route] = [r for r in app.routes if r.function == "Fn"]
        assert route.raw_stream is streamed, mode


@pytest.mark.parametrize(
    ("text", "key", "at"),
    [
        (api, "responseTransferMode", "DefinitionBody"),
        (method, "ResponseTransferMode", "Integration"),
    ],
)
def test_a_transfer_mode_api_gateway_does_not_have_is_refused(
    tmp_path: Path, text: object, key: str, at: str
) -> None:
    path = write(tmp_path, resources(function(), text(f"{key}: streamed")))  # type: ignore[operator]
    err = str(fails(path))
    assert f":{line_of(path, at)}:" in err and "'streamed' is not a transfer mode" in err
