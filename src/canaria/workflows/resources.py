"""Which Task resources canaria runs, and how they are named.

``resource_kind`` classifies a ``Resource`` (an integration's ``.waitForTaskToken`` form
as the integration itself: ``callback`` tells them apart); anything else (other service
integrations, ``.sync`` patterns, activities) raises :class:`UnsupportedResource` so the
definition is refused at load. ``service_call`` names the AWS API call an
``aws_service`` or ``aws_sdk`` task makes: the optimized integrations of the services
canaria serves (DynamoDB ``getItem`` / ``putItem`` / ``updateItem`` / ``deleteItem``, SQS
``sendMessage``, SNS ``publish``, EventBridge ``putEvents``) and the AWS SDK integrations
(``aws-sdk:<service>:<action>``) of DynamoDB, SQS, SNS, EventBridge, S3, SSM and Secrets
Manager.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ResourceKind = Literal[
    "lambda_function", "lambda_invoke", "apigateway_invoke", "http_invoke", "aws_service", "aws_sdk"
]

_INTEGRATIONS: dict[str, ResourceKind] = {
    "arn:aws:states:::lambda:invoke": "lambda_invoke",
    "arn:aws:states:::apigateway:invoke": "apigateway_invoke",
    "arn:aws:states:::http:invoke": "http_invoke",
}
# optimized integrations: service → actions, and the prefix of their error names
_OPTIMIZED: dict[str, tuple[frozenset[str], str]] = {
    "dynamodb": (frozenset({"getItem", "putItem", "updateItem", "deleteItem"}), "DynamoDB"),
    "sqs": (frozenset({"sendMessage"}), "SQS"),
    "sns": (frozenset({"publish"}), "SNS"),
    "events": (frozenset({"putEvents"}), "EventBridge"),
    "states": (frozenset({"startExecution"}), "StepFunctions"),
}
# where an integration's service is not botocore's name for it
_BOTOCORE = {"states": "stepfunctions"}
# AWS SDK integrations: the service as Step Functions names it → (botocore's name, the
# prefix of its error names)
_SDK: dict[str, tuple[str, str]] = {
    "dynamodb": ("dynamodb", "DynamoDb"),
    "sqs": ("sqs", "Sqs"),
    "sns": ("sns", "Sns"),
    "eventbridge": ("events", "EventBridge"),
    "s3": ("s3", "S3"),
    "ssm": ("ssm", "Ssm"),
    "secretsmanager": ("secretsmanager", "SecretsManager"),
    "kinesis": ("kinesis", "Kinesis"),
    "firehose": ("firehose", "Firehose"),
    "sfn": ("stepfunctions", "Sfn"),
}
_ACTION = re.compile(r"[a-z][A-Za-z0-9]*")
CALLBACK = ".waitForTaskToken"  # the callback pattern's suffix
_PARTITION = r"arn:aws(?:-[a-z]+)*"
_INTEGRATION = re.compile(_PARTITION + r":states:[^:]*:[^:]*:(?P<service>[^:]+):(?P<action>.+)")
_FUNCTION_ARN = re.compile(
    _PARTITION + r":lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?"
)
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,140}(?::[A-Za-z0-9$_-]+)?")


class UnsupportedResource(ValueError):
    """A Task resource canaria does not run; the message names the feature."""


@dataclass(frozen=True)
class ServiceCall:
    """The AWS API call a service integration task makes."""

    service: str  # botocore's service name
    action: str  # the API action, e.g. PutItem
    error_prefix: str  # Step Functions names the call's errors <prefix>.<code>
    # False: a service canaria does not serve; the call answers NotServedByCanaria, so
    # the task fails when it runs (Step Functions accepts the definition, as on AWS)
    served: bool = True


def resource_kind(resource: str) -> ResourceKind:
    """Classify a Task ``Resource``: a Lambda function (ARN or name) or a supported
    optimized integration (``lambda:invoke``, ``apigateway:invoke``, ``http:invoke``)."""
    if re.fullmatch(_PARTITION + r":states:[^:]*:[^:]*:activity:.*", resource):
        raise UnsupportedResource(f"resource {resource!r}: activities are not supported")
    m = _INTEGRATION.fullmatch(resource)
    if m is not None:
        base = f"arn:aws:states:::{m['service']}:{m['action']}"
        service, action = m["service"], m["action"]
        if action.endswith(CALLBACK):
            action = action.removesuffix(CALLBACK)
            base = f"arn:aws:states:::{service}:{action}"
            if base in ("arn:aws:states:::http:invoke",):
                raise UnsupportedResource(
                    f"resource {resource!r}: http:invoke has no waitForTaskToken pattern"
                )
            resource = resource.removesuffix(CALLBACK)
        for suffix in (".sync:2", ".sync"):
            if action.endswith(suffix):
                raise UnsupportedResource(
                    f"resource {resource!r} uses the {suffix.lstrip('.')} integration pattern, "
                    "which is not supported (request-response and waitForTaskToken are)"
                )
        kind = _INTEGRATIONS.get(base)
        if kind is not None:
            return kind
        service_call(resource)  # refuses what it cannot call
        return "aws_sdk" if service == "aws-sdk" else "aws_service"
    if _FUNCTION_ARN.fullmatch(resource) or _FUNCTION_NAME.fullmatch(resource):
        return "lambda_function"
    raise UnsupportedResource(
        f"resource {resource!r} is not a Lambda function ARN or a supported integration"
    )


def callback(resource: str) -> bool:
    """Whether a Task ``Resource`` is a callback task (``.waitForTaskToken``)."""
    return resource.endswith(CALLBACK)


def integration(resource: str) -> str:
    """The integration a Task ``Resource`` calls: without its ``.waitForTaskToken``."""
    return resource.removesuffix(CALLBACK)


def service_call(resource: str) -> ServiceCall:
    """The API call of an ``aws_service`` or ``aws_sdk`` Task resource."""
    m = _INTEGRATION.fullmatch(resource)
    service, action = (m["service"], m["action"]) if m else ("", resource)
    if service == "aws-sdk":
        sdk_service, _, sdk_action = action.partition(":")
        if not re.fullmatch(r"[a-z][a-z0-9]*", sdk_service):
            raise UnsupportedResource(f"resource {resource!r}: {sdk_service!r} is not a service")
        if not _ACTION.fullmatch(sdk_action):
            raise UnsupportedResource(
                f"resource {resource!r}: {sdk_action!r} is not an action name (e.g. putItem)"
            )
        name, prefix = _SDK.get(sdk_service, (sdk_service, _capitalized(sdk_service)))
        return ServiceCall(name, _capitalized(sdk_action), prefix, sdk_service in _SDK)
    other = service not in _OPTIMIZED and service not in _NOT_INTEGRATIONS
    if other and _ACTION.fullmatch(action):
        # another of Step Functions' integrations (glue:startJobRun, ecs:runTask, ...)
        botocore = _BOTOCORE.get(service, service)
        return ServiceCall(botocore, _capitalized(action), _capitalized(service), False)
    actions, prefix = _OPTIMIZED.get(service, (frozenset[str](), ""))
    if action not in actions:
        raise UnsupportedResource(
            f"resource {resource!r}: the {service}:{action} service integration is not "
            "supported (supported: lambda:invoke, apigateway:invoke, http:invoke, "
            + ", ".join(f"{s}:{a}" for s, (acts, _) in _OPTIMIZED.items() for a in sorted(acts))
            + ", aws-sdk:<service>:<action> for "
            + ", ".join(sorted(_SDK))
            + ", Lambda function ARNs)"
        )
    return ServiceCall(_BOTOCORE.get(service, service), _capitalized(action), prefix)


def _capitalized(name: str) -> str:
    return name[:1].upper() + name[1:]


# what the ARN of an integration cannot name: these are other resources' ARNs
_NOT_INTEGRATIONS = frozenset({"activity", "stateMachine", "execution"})


def history_resource(resource: str, kind: ResourceKind) -> tuple[str, str]:
    """``(resourceType, resource)`` as Step Functions history events name them."""
    match kind:
        case "lambda_function":
            return "lambda", resource
        case "lambda_invoke":
            return "lambda", "invoke"
        case "apigateway_invoke":
            return "apigateway", "invoke"
        case "http_invoke":
            return "http", "invoke"
        case "aws_service" | "aws_sdk":
            service, _, action = resource.split(":", 5)[-1].rpartition(":")
            return service, action


__all__ = [
    "CALLBACK",
    "ResourceKind",
    "ServiceCall",
    "UnsupportedResource",
    "callback",
    "history_resource",
    "integration",
    "resource_kind",
    "service_call",
]
