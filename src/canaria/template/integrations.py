"""A REST API method's integration when it is not a Lambda proxy, read from either form
API Gateway takes: an ``AWS::ApiGateway::Method``'s ``Integration`` (``Type``, ``Uri``,
``RequestTemplates``, ``IntegrationResponses``: a list) or an OpenAPI operation's
``x-amazon-apigateway-integration`` (``type``, ``uri``, ``requestTemplates``,
``responses``: a mapping keyed by selection pattern, ``default`` for none).

- ``AWS`` to ``lambda:path/.../functions/<ARN>/invocations`` of a template function: that
  function, invoked with the mapping template's output (a function elsewhere: not served).
- ``AWS`` to another service (``...:<service>:action/<Action>`` or ``...:path/<path>``):
  the service's API, as canaria serves it; a service canaria does not serve is a
  warning, and its calls are answered as a failed integration.
- ``MOCK``: the request template's ``statusCode`` picks the response.
- ``HTTP`` / ``HTTP_PROXY``: the URL, called from this machine.
- An HTTP API's ``AWS_PROXY`` with an ``IntegrationSubtype`` (``SQS-SendMessage``,
  ``EventBridge-PutEvents``, ``StepFunctions-StartExecution``, ...): that action, its
  ``RequestParameters`` the action's parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from canaria.models.integrations import (
    DEFAULT_TIMEOUT_S,
    SUBTYPES,
    AwsTarget,
    IntegrationResponseSpec,
    IntegrationSpec,
    Passthrough,
)

# the services an AWS integration reaches here (by the name in its URI); the others are
# answered as a failed integration
SERVED_SERVICES = frozenset(
    {
        "dynamodb",
        "events",
        "kinesis",
        "lambda",
        "s3",
        "secretsmanager",
        "sns",
        "sqs",
        "ssm",
        "states",
    }
)
_AWS_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:(?P<region>.*?):(?P<service>[A-Za-z0-9.-]+):"
    r"(?P<kind>action|path)/(?P<rest>.*)$"
)
_PASSTHROUGH: dict[str, Passthrough] = {
    "WHEN_NO_MATCH": "WHEN_NO_MATCH",
    "WHEN_NO_TEMPLATES": "WHEN_NO_TEMPLATES",
    "NEVER": "NEVER",
}

FunctionOf = Callable[[Any], "tuple[str, str | None] | None"]


def read_integration(
    raw: Mapping[str, Any], function_of: FunctionOf, warn: Callable[[str], None]
) -> IntegrationSpec | None:
    """The integration ``raw`` describes (either form), or None when canaria does not
    serve it (a Lambda proxy is read elsewhere; ``warn`` says why for the others)."""
    get = _getter(raw)
    kind = str(get("type") or "").upper()
    uri = get("uri")
    mock = IntegrationSpec(
        "mock",
        http_method=str(get("integrationHttpMethod") or get("httpMethod") or "POST").upper(),
        request_templates=_pairs(get("requestTemplates")),
        request_parameters=_pairs(get("requestParameters")),
        passthrough=_PASSTHROUGH.get(
            str(get("passthroughBehavior") or "").upper(), "WHEN_NO_MATCH"
        ),
        responses=_responses(get("integrationResponses"), get("responses"), warn),
        timeout_s=_timeout(get("timeoutInMillis")),
    )
    if kind == "MOCK":
        return mock
    if kind in ("HTTP", "HTTP_PROXY"):
        if not isinstance(uri, str) or not uri.startswith(("http://", "https://")):
            warn(f"an {kind} integration needs an http(s) URL as its uri: not served")
            return None
        return replace(mock, kind="http" if kind == "HTTP" else "http_proxy", url=uri)
    if kind == "AWS_PROXY":
        subtype = get("integrationSubtype")
        if not subtype:
            return None  # a Lambda proxy: read by the caller
        if str(subtype) not in SUBTYPES:
            warn(
                f"integration subtype {subtype} is not served (canaria serves "
                f"{', '.join(SUBTYPES)})"
            )
            return None
        return replace(mock, kind="service", subtype=str(subtype))
    if kind != "AWS":
        warn(f"integration type {kind or '(none)'} is not served")
        return None
    if not isinstance(uri, str):
        warn("an AWS integration without a uri is not served")
        return None
    found = _AWS_URI.match(uri)
    if found is None:
        warn(f"AWS integration uri {uri!r} is not an API Gateway service ARN: not served")
        return None
    service = found["service"].rsplit(".", 1)[-1].lower()
    if service == "lambda":
        target = function_of(uri)
        if target is None:
            warn(f"the function of {uri!r} is not one of this template's: not served")
            return None
        function, qualifier = target
        return replace(mock, kind="lambda", function=function, qualifier=qualifier)
    if service not in SERVED_SERVICES:
        warn(
            f"AWS integration with {found['service']} (canaria serves "
            f"{', '.join(sorted(SERVED_SERVICES))}): its calls fail with a 500"
        )
    rest = found["rest"]
    if found["kind"] == "action":
        action = rest.split("&", 1)[0].split("?", 1)[0]
        target_ = AwsTarget(service, action, None)
    else:
        target_ = AwsTarget(service, None, rest)
    return replace(mock, kind="aws", aws=target_)


def _getter(raw: Mapping[str, Any]) -> Callable[[str], Any]:
    """A lookup by camelCase name that takes CloudFormation's PascalCase too."""

    def get(key: str) -> Any:
        if key in raw:
            return raw[key]
        return raw.get(key[0].upper() + key[1:])

    return get


def _pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, Mapping):
        return ()
    return tuple((str(k), v if isinstance(v, str) else str(v)) for k, v in value.items())


def _responses(
    listed: Any, keyed: Any, warn: Callable[[str], None]
) -> tuple[IntegrationResponseSpec, ...]:
    """CloudFormation's ``IntegrationResponses`` list or OpenAPI's ``responses`` mapping
    (key: the selection pattern, ``default`` for none). A status that is not one, or a
    pattern that is not a regular expression, leaves that response out, with a warning."""
    items: list[tuple[Any, Mapping[str, Any]]] = []
    if isinstance(listed, list):
        for r in listed:
            if isinstance(r, Mapping):
                items.append((_getter(r)("selectionPattern"), r))
    elif isinstance(keyed, Mapping):
        for pattern, r in keyed.items():
            if isinstance(r, Mapping):
                items.append((None if str(pattern) == "default" else pattern, r))
    out = []
    for pattern, r in items:
        get = _getter(r)
        status = str(get("statusCode") or "200")
        if not (status.isdigit() and 100 <= int(status) <= 599):
            warn(f"integration response statusCode {status!r} is not an HTTP status: not used")
            continue
        if pattern not in (None, ""):
            try:
                re.compile(str(pattern))
            except re.error as exc:
                warn(f"selection pattern {pattern!r} is not a regular expression ({exc}): not used")
                continue
        out.append(
            IntegrationResponseSpec(
                int(status),
                str(pattern) if pattern not in (None, "") else None,
                _pairs(get("responseTemplates")),
                _pairs(get("responseParameters")),
                str(get("contentHandling")) if get("contentHandling") else None,
            )
        )
    return tuple(out)


def _timeout(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 50:
        return float(value) / 1000
    if isinstance(value, str) and value.isdigit() and int(value) >= 50:
        return int(value) / 1000
    return DEFAULT_TIMEOUT_S


__all__ = ["SERVED_SERVICES", "read_integration"]
