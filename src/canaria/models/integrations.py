"""An API method's integration when it is not a Lambda proxy: API Gateway's ``AWS``
(a service action or path, or a function invoked with a mapping template), ``MOCK`` and
``HTTP`` / ``HTTP_PROXY`` integrations of REST APIs, and an HTTP API's AWS service
integrations (``IntegrationSubtype``).

Read from ``AWS::ApiGateway::Method``'s ``Integration``, an OpenAPI operation's
``x-amazon-apigateway-integration`` or ``AWS::ApiGatewayV2::Integration``; run by
``canaria.gateway.integrations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

IntegrationKind = Literal["aws", "lambda", "mock", "http", "http_proxy", "service"]
Passthrough = Literal["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"]

# API Gateway's default integration timeout, and its ceiling without a quota raise
DEFAULT_TIMEOUT_S = 29.0

# an HTTP API's AWS service integrations canaria runs: subtype → (service, action)
SUBTYPES: dict[str, tuple[str, str]] = {
    "EventBridge-PutEvents": ("events", "PutEvents"),
    "SQS-SendMessage": ("sqs", "SendMessage"),
    "SQS-ReceiveMessage": ("sqs", "ReceiveMessage"),
    "SQS-DeleteMessage": ("sqs", "DeleteMessage"),
    "SQS-PurgeQueue": ("sqs", "PurgeQueue"),
    "Kinesis-PutRecord": ("kinesis", "PutRecord"),
    "StepFunctions-StartExecution": ("states", "StartExecution"),
    "StepFunctions-StartSyncExecution": ("states", "StartSyncExecution"),
    "StepFunctions-StopExecution": ("states", "StopExecution"),
}


@dataclass(frozen=True)
class IntegrationResponseSpec:
    """One integration response: which backend answers it takes (``pattern``, a regular
    expression the status code, or a function's ``errorMessage``, must match in full;
    None for the default), and how it turns them into the method's answer."""

    status: int  # 0: the backend's (a WebSocket integration response has no status of its own)
    pattern: str | None = None
    templates: tuple[tuple[str, str], ...] = ()  # content type → mapping template
    # method.response.header.<name> → 'literal' | integration.response.header.<name> | ...
    parameters: tuple[tuple[str, str], ...] = ()
    content_handling: str | None = None  # CONVERT_TO_TEXT | CONVERT_TO_BINARY


@dataclass(frozen=True)
class AwsTarget:
    """What an ``AWS`` integration's URI names:
    ``arn:aws:apigateway:<region>:<service>:action/<Action>`` or ``...:path/<path>``."""

    service: str  # the URI's service part: "sqs", "dynamodb", "states", "events", ...
    action: str | None  # "PutItem" for an action URI
    path: str | None  # "123456789012/queue" for a path URI (no leading slash)


@dataclass(frozen=True)
class IntegrationSpec:
    kind: IntegrationKind
    http_method: str = "POST"  # IntegrationHttpMethod (the backend's verb)
    aws: AwsTarget | None = None  # kind "aws"
    function: str | None = None  # kind "lambda": the template's function (logical id)
    qualifier: str | None = None  # ... and the alias or version its ARN names
    url: str | None = None  # kind "http" / "http_proxy"
    request_templates: tuple[tuple[str, str], ...] = ()  # content type → template
    # integration.request.{header,querystring,path}.<name> → method.request... | 'literal'
    request_parameters: tuple[tuple[str, str], ...] = ()
    passthrough: Passthrough = "WHEN_NO_MATCH"
    responses: tuple[IntegrationResponseSpec, ...] = ()
    timeout_s: float = DEFAULT_TIMEOUT_S
    # kind "service": an HTTP API's ``IntegrationSubtype`` ("SQS-SendMessage") and its
    # parameters (``MessageBody: $request.body.message``)
    subtype: str | None = None
    # a WebSocket route's ``TemplateSelectionExpression`` (``\$default``, ``200``,
    # ``$request.body.action``): which of its request templates renders a message
    template_selection: str | None = None


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "SUBTYPES",
    "AwsTarget",
    "IntegrationKind",
    "IntegrationResponseSpec",
    "IntegrationSpec",
    "Passthrough",
]
