"""An API's CORS configuration: REST ``Cors``, HTTP API ``CorsConfiguration`` (and their
``Globals``).

REST (``AWS::Serverless::Api``): ``Cors: "'https://example.com'"`` or ``{AllowOrigin,
AllowMethods, AllowHeaders, MaxAge, AllowCredentials}``; each value is what API Gateway
puts in the header, quoted as a literal (``"'GET,POST'"``). SAM adds a mock ``OPTIONS``
method answering them to every path that has none; with ``AllowMethods`` absent it
names the path's methods. Nothing is added to the other methods' answers: a Lambda
proxy's function sets those headers itself.

HTTP API (``AWS::Serverless::HttpApi``): ``CorsConfiguration: true`` (any origin) or
``{AllowOrigins, AllowMethods, AllowHeaders, ExposeHeaders, MaxAge, AllowCredentials}``
(lists, unquoted). API Gateway answers preflights itself and sets the headers on every
answer to an allowed origin, replacing the function's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.models import CorsSpec
from canaria.models.app import ApiKind
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_bool, as_int, as_list, as_map, as_str

REST_KEYS = ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigin", "MaxAge")
HTTP_KEYS = (
    "AllowCredentials",
    "AllowHeaders",
    "AllowMethods",
    "AllowOrigins",
    "ExposeHeaders",
    "MaxAge",
)


def api_cors(ctx: Context, entry: Entry, kind: ApiKind) -> CorsSpec | None:
    """The API's CORS configuration, None without one (SAM's translator, which runs
    first, has refused the shapes SAM refuses)."""
    key = "Cors" if kind == "rest" else "CorsConfiguration"
    value = ctx.get(entry, key)
    if value is NO_VALUE or value is None or value is False:
        return None
    at = ctx.at(entry, key)
    if kind == "http":
        if isinstance(value, str) and value.lower() == "false":  # a String parameter's
            return None
        return http_cors(value, at)
    preflight = True
    auth = ctx.get(entry, "Auth")
    if isinstance(auth, dict) and auth.get("AddDefaultAuthorizerToCorsPreflight") is False:
        preflight = False
    if isinstance(value, str):
        return CorsSpec((unquoted(value),), preflight_authorized=preflight)
    node = as_map(value, at)
    origin = node.get("AllowOrigin")
    # without AllowOrigin, SAM's preflight allows every origin ('*')
    allowed = "*" if origin is None else unquoted(as_str(origin, at.key(node, "AllowOrigin")))
    max_age = node.get("MaxAge")
    return CorsSpec(
        (allowed,),
        allow_methods=_listed(node.get("AllowMethods"), at),
        allow_headers=_listed(node.get("AllowHeaders"), at),
        max_age=None if max_age is None else _max_age(max_age, at.key(node, "MaxAge")),
        allow_credentials=node.get("AllowCredentials") is True,
        preflight_authorized=preflight,
    )


def http_cors(value: Any, at: Where) -> CorsSpec:
    """An HTTP API's ``CorsConfiguration`` (or a function URL's ``Cors``: the same shape);
    ``true`` (or a String parameter's ``"true"``) allows every origin."""
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return CorsSpec(("*",))
    node = as_map(value, at)

    def names(key: str) -> tuple[str, ...]:
        if node.get(key) is None:
            return ()
        kat = at.key(node, key)
        return tuple(as_str(v, kat) for v in as_list(node[key], kat))

    max_age = node.get("MaxAge")
    credentials = node.get("AllowCredentials")
    return CorsSpec(
        names("AllowOrigins"),
        allow_methods=tuple(m.upper() for m in names("AllowMethods")),
        allow_headers=names("AllowHeaders"),
        expose_headers=names("ExposeHeaders"),
        max_age=None if max_age is None else as_int(max_age, at.key(node, "MaxAge"), 0),
        allow_credentials=credentials is not None
        and as_bool(credentials, at.key(node, "AllowCredentials")),
    )


def mock_preflight(parameters: Mapping[str, Any]) -> CorsSpec | None:
    """The CORS a hand-written ``OPTIONS`` method with a ``MOCK`` integration answers, read
    from its integration response's ``ResponseParameters``
    (``method.response.header.Access-Control-Allow-Origin: "'*'"``, ...); None when it
    sets no ``Access-Control-Allow-Origin``."""
    prefix = "method.response.header.access-control-"
    headers = {
        str(k).lower().removeprefix(prefix): unquoted(str(v))
        for k, v in parameters.items()
        if str(k).lower().startswith(prefix)
    }
    if not headers.get("allow-origin"):
        return None

    def listed(key: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in headers.get(key, "").split(",") if p.strip())

    age = headers.get("max-age", "")
    return CorsSpec(
        (headers["allow-origin"],),
        allow_methods=tuple(m.upper() for m in listed("allow-methods")),
        allow_headers=listed("allow-headers"),
        max_age=int(age) if age.isdigit() else None,
        allow_credentials=headers.get("allow-credentials", "").lower() == "true",
    )


def unquoted(value: str) -> str:
    """A value without the quotes that make it a literal to API Gateway (``"'*'"``)."""
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1]
    return text


def _listed(value: Any, at: Where) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(p.strip() for p in unquoted(as_str(value, at)).split(",") if p.strip())


def _max_age(value: Any, at: Where) -> int:
    text = unquoted(str(value)) if isinstance(value, str) else value
    return as_int(int(text) if isinstance(text, str) and text.isdigit() else text, at, 0)
