"""Which Task resources canaria runs, and how they are named.

``resource_kind`` classifies a ``Resource``; anything else (other service integrations,
``.sync`` / ``.waitForTaskToken`` patterns, activities) raises :class:`UnsupportedResource`
so the definition is refused at load.
"""

from __future__ import annotations

import re
from typing import Literal

ResourceKind = Literal["lambda_function", "lambda_invoke", "apigateway_invoke", "http_invoke"]

_INTEGRATIONS: dict[str, ResourceKind] = {
    "arn:aws:states:::lambda:invoke": "lambda_invoke",
    "arn:aws:states:::apigateway:invoke": "apigateway_invoke",
    "arn:aws:states:::http:invoke": "http_invoke",
}
_PARTITION = r"arn:aws(?:-[a-z]+)*"
_INTEGRATION = re.compile(_PARTITION + r":states:[^:]*:[^:]*:(?P<service>[^:]+):(?P<action>.+)")
_FUNCTION_ARN = re.compile(
    _PARTITION + r":lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+(?::[A-Za-z0-9$_-]+)?"
)
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,140}(?::[A-Za-z0-9$_-]+)?")


class UnsupportedResource(ValueError):
    """A Task resource canaria does not run; the message names the feature."""


def resource_kind(resource: str) -> ResourceKind:
    """Classify a Task ``Resource``: a Lambda function (ARN or name) or a supported
    optimized integration (``lambda:invoke``, ``apigateway:invoke``, ``http:invoke``)."""
    if re.fullmatch(_PARTITION + r":states:[^:]*:[^:]*:activity:.*", resource):
        raise UnsupportedResource(f"resource {resource!r}: activities are not supported")
    m = _INTEGRATION.fullmatch(resource)
    if m is not None:
        base = f"arn:aws:states:::{m['service']}:{m['action']}"
        service, action = m["service"], m["action"]
        for suffix in (".sync:2", ".sync", ".waitForTaskToken"):
            if action.endswith(suffix):
                raise UnsupportedResource(
                    f"resource {resource!r} uses the {suffix.lstrip('.')} integration pattern, "
                    "which is not supported (only request-response)"
                )
        kind = _INTEGRATIONS.get(base)
        if kind is None:
            raise UnsupportedResource(
                f"resource {resource!r}: the {service}:{action} service integration is not "
                "supported (supported: lambda:invoke, apigateway:invoke, http:invoke, "
                "Lambda function ARNs)"
            )
        return kind
    if _FUNCTION_ARN.fullmatch(resource) or _FUNCTION_NAME.fullmatch(resource):
        return "lambda_function"
    raise UnsupportedResource(
        f"resource {resource!r} is not a Lambda function ARN or a supported integration"
    )


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


__all__ = ["ResourceKind", "UnsupportedResource", "history_resource", "resource_kind"]
