"""A REST API's ``GatewayResponses``: how API Gateway's own answers are changed.

``GatewayResponses: {UNAUTHORIZED: {StatusCode, ResponseParameters: {Headers: {...}},
ResponseTemplates: {application/json: ...}}, DEFAULT_4XX: {...}, ...}``. Header values
are literals quoted as API Gateway takes them (``"'*'"``); a template is the body, with
``$context.error.messageString`` (the message, quoted) and ``$context.error.message``
filled in. The types canaria answers with are listed in ``RESPONSE_TYPES``; a type
canaria never answers with is kept all the same (a ``DEFAULT_*`` covers it).
"""

from __future__ import annotations

from canaria.models import GatewayResponseSpec
from canaria.template.context import Context
from canaria.template.cors import unquoted
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_int, as_map, as_str

# the response types of API Gateway's answers that canaria gives
RESPONSE_TYPES = (
    "ACCESS_DENIED",
    "AUTHORIZER_CONFIGURATION_ERROR",
    "AUTHORIZER_FAILURE",
    "DEFAULT_4XX",
    "DEFAULT_5XX",
    "INTEGRATION_TIMEOUT",
    "INVALID_API_KEY",
    "MISSING_AUTHENTICATION_TOKEN",
    "REQUEST_TOO_LARGE",
    "THROTTLED",
    "UNAUTHORIZED",
)


def gateway_responses(ctx: Context, entry: Entry) -> tuple[tuple[str, GatewayResponseSpec], ...]:
    """The API's ``GatewayResponses``, by response type."""
    value = ctx.get(entry, "GatewayResponses")
    if value is NO_VALUE or value is None:
        return ()
    at = ctx.at(entry, "GatewayResponses")
    node = as_map(value, at)
    out = []
    for kind, spec in node.items():
        sat = at.key(node, kind)
        out.append((str(kind), _response(as_map(spec, sat), sat)))
    return tuple(out)


def _response(node: dict[str, object], at: Where) -> GatewayResponseSpec:
    status = None
    if node.get("StatusCode") is not None:
        raw = node["StatusCode"]
        kat = at.key(node, "StatusCode")
        status = as_int(int(raw) if isinstance(raw, str) and raw.isdigit() else raw, kat, 100, 599)
    headers: list[tuple[str, str]] = []
    parameters = node.get("ResponseParameters")
    if parameters is not None:
        pat = at.key(node, "ResponseParameters")
        pnode = as_map(parameters, pat)
        if pnode.get("Headers") is not None:
            hat = pat.key(pnode, "Headers")
            hnode = as_map(pnode["Headers"], hat)
            headers = [(str(k), unquoted(as_str(v, hat.key(hnode, k)))) for k, v in hnode.items()]
    template = None
    templates = node.get("ResponseTemplates")
    if templates is not None:
        tat = at.key(node, "ResponseTemplates")
        tnode = as_map(templates, tat)
        body = tnode.get("application/json")
        if body is not None:
            template = as_str(body, tat.key(tnode, "application/json"))
    return GatewayResponseSpec(status, tuple(headers), template)
