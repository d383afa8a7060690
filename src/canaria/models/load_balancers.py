"""Application Load Balancers in front of Lambda functions: what a template's
``AWS::ElasticLoadBalancingV2::*`` resources declare, read into one shape
(``canaria.template.load_balancers``) and served by ``canaria.gateway.load_balancers``.

A listener holds its rules in the order ALB evaluates them (by priority, lowest first)
and its default actions; an action forwards to weighted target groups, answers with a
fixed response, redirects, or authenticates (which canaria does not run: see
``ActionSpec.on_unauthenticated``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# the rule condition fields ALB has
HOST_HEADER = "host-header"
PATH_PATTERN = "path-pattern"
HTTP_HEADER = "http-header"
HTTP_REQUEST_METHOD = "http-request-method"
QUERY_STRING = "query-string"
SOURCE_IP = "source-ip"
CONDITION_FIELDS = (
    HOST_HEADER,
    PATH_PATTERN,
    HTTP_HEADER,
    HTTP_REQUEST_METHOD,
    QUERY_STRING,
    SOURCE_IP,
)

ActionKind = Literal["forward", "fixed-response", "redirect", "authenticate"]


@dataclass(frozen=True)
class ConditionSpec:
    """One rule condition: the request matches when one of ``values`` does (``*`` and
    ``?`` are wildcards where ALB allows them). ``header``: an ``http-header``
    condition's header name; ``pairs``: a ``query-string`` condition's (key or None,
    value) pairs."""

    field: str
    values: tuple[str, ...] = ()
    header: str | None = None
    pairs: tuple[tuple[str | None, str], ...] = ()


@dataclass(frozen=True)
class TargetGroupSpec:
    """A target group. ``function``: the template's function registered in it (its logical
    id; None when the group has no Lambda target, and a forward to it answers 503);
    ``qualifier``: the alias or version its ARN names (None: the function's own alias)."""

    logical_id: str
    arn: str
    function: str | None
    qualifier: str | None = None
    multi_value_headers: bool = False  # lambda.multi_value_headers.enabled


@dataclass(frozen=True)
class RedirectSpec:
    """A redirect's parts; ``#{protocol}``, ``#{host}``, ``#{port}``, ``#{path}`` and
    ``#{query}`` are the request's own."""

    status: int  # 301 or 302
    protocol: str = "#{protocol}"
    host: str = "#{host}"
    port: str = "#{port}"
    path: str = "/#{path}"
    query: str = "#{query}"


@dataclass(frozen=True)
class ActionSpec:
    kind: ActionKind
    # forward: each target group with its weight
    targets: tuple[tuple[TargetGroupSpec, int], ...] = ()
    # fixed-response
    status: int = 200
    content_type: str | None = None
    body: str = ""
    redirect: RedirectSpec | None = None
    # authenticate-cognito / authenticate-oidc: deny, allow or authenticate (ALB's
    # default: send the browser to the identity provider, which canaria cannot)
    on_unauthenticated: str = "authenticate"


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    priority: int
    conditions: tuple[ConditionSpec, ...]
    actions: tuple[ActionSpec, ...]  # in their Order; the last one ends the request


@dataclass(frozen=True)
class ListenerSpec:
    """One listener of an Application Load Balancer, served on a port of its own."""

    logical_id: str
    load_balancer: str  # the load balancer's logical id
    port: int  # the port it declares (80, 443, ...); canaria serves it on another
    protocol: str  # HTTP or HTTPS (served as plain HTTP)
    rules: tuple[RuleSpec, ...]  # by priority, lowest first
    default_actions: tuple[ActionSpec, ...]
    # the load balancer's DNSName (what ``!GetAtt LB.DNSName`` gives): the stack's outputs
    # name it where canaria serves the listener (``services.local_urls``)
    dns_name: str = ""
