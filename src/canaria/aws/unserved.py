"""Requests signed for an AWS service the edge does not serve get an answer that names it.

A function's SDK sends every service without an ``AWS_ENDPOINT_URL_<SERVICE>`` of its own
to the edge (``AWS_ENDPOINT_URL``). Without this, a call to, say, SES would fail
the signature check or meet an unknown route, and the SDK would report ``(401)
Unauthorized`` or a parse error that hides the cause. The SigV4 credential scope names
the service; the answer is in the request's protocol so the SDK shows it as
``An error occurred (NotServedByCanaria) when calling the SendEmail operation: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from canaria.services.answers import error_answer, signing_service

# signing names the edge itself serves (``aws.app``'s routes): Lambda, CodeDeploy, Step
# Functions, API Gateway's Management API, Firehose, and for ``canaria guard`` CloudWatch
# Logs, CloudWatch and CloudFormation
EDGE_SERVICES = frozenset(
    {
        "lambda",
        "codedeploy",
        "states",
        "logs",
        "monitoring",
        "cloudformation",
        "execute-api",
        "firehose",
    }
)
# friendlier names for signing names that differ from the service's (the common ones)
_NAMES = {
    "monitoring": "CloudWatch",
    "logs": "CloudWatch Logs",
    "execute-api": "API Gateway (execute-api)",
    "apigateway": "API Gateway",
    "kinesis": "Kinesis",
    "firehose": "Kinesis Data Firehose",
    "sts": "STS",
    "ses": "SES",
    "email": "SES",
    "xray": "X-Ray",
    "kms": "KMS",
    "cognito-idp": "Cognito user pools",
    "iam": "IAM",
    "scheduler": "EventBridge Scheduler",
    "appsync": "AppSync",
    "rds-data": "RDS Data API",
}
# signing names the edge serves for some paths only: API Gateway's API keys (``/apikeys``)
EDGE_PATHS = {"apigateway": "/apikeys"}
SERVED_HERE = (
    "Lambda, CodeDeploy, Step Functions, CloudWatch Logs, CloudWatch, CloudFormation, "
    "Firehose and API Gateway's API keys"
)


def describe(service: str) -> str:
    name = _NAMES.get(service)
    return f"{service!r} ({name})" if name else repr(service)


class UnservedServices:
    """ASGI middleware in front of the edge. ``elsewhere`` maps the signing names canaria
    serves at other endpoints (``s3``, ``dynamodb``, ...) to ``(endpoint, variable)``."""

    def __init__(self, app: ASGIApp, elsewhere: Mapping[str, tuple[str, str]]) -> None:
        self.app = app
        self.elsewhere = dict(elsewhere)

    def message(self, service: str) -> str:
        if service in self.elsewhere:
            endpoint, variable = self.elsewhere[service]
            return (
                f"canaria serves {service} at {endpoint} ({variable} in every function's "
                "environment), not at this endpoint: let the SDK read its endpoint from the "
                "environment instead of passing endpoint_url"
            )
        others = ", ".join(sorted(self.elsewhere))
        return (
            f"canaria does not serve the AWS service {describe(service)}: it serves "
            f"{SERVED_HERE} at this endpoint, and {others} at their own "
            "(AWS_ENDPOINT_URL_<SERVICE>)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        service = signing_service(headers, query)
        if service is None or service in EDGE_SERVICES:
            await self.app(scope, receive, send)
            return
        prefix = EDGE_PATHS.get(service)
        if prefix is not None and str(scope.get("path", "")).startswith(prefix):
            await self.app(scope, receive, send)
            return
        message = self.message(service)
        status, extra, body = error_answer(headers, 400, "NotServedByCanaria", message, service)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    *((k.encode(), v.encode()) for k, v in extra),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
