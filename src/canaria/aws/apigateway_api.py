"""API Gateway's API keys at the edge: ``GetApiKeys`` and ``GetApiKey`` (REST-JSON), so a
script that reads a key's value as it would on AWS (``aws apigateway get-api-keys
--include-values``, boto3's ``get_api_key(apiKey=..., includeValue=True)``) finds the keys
the running template's methods accept. Values are given only when asked for
(``includeValues`` / ``includeValue``), as API Gateway gives them; ``name`` filters by a
prefix of the key's name. The operator's keys may call them; a function's may not (they
are not what an execution role is given). No other API Gateway operation is served: the
edge answers those ``NotServedByCanaria``, as it answers any service it does not serve.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import REST_JSON, rest_error
from canaria.models import ApiKeySpec

PATHS = ("/apikeys", "/apikeys/{api_key}")
SIGNING_NAME = "apigateway"
PATH_PREFIX = "/apikeys"  # the edge's API Gateway paths; another is not served


def _view(spec: ApiKeySpec, value: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": spec.id, "name": spec.name, "enabled": spec.enabled}
    if value and spec.value is not None:
        out["value"] = spec.value
    out["stageKeys"] = [f"{api.lower()}/{stage}" for api, stage in spec.stages]
    return out


def _keys(edge: EdgeBackend) -> list[ApiKeySpec]:
    app = edge.app
    return sorted(app.api_keys.values(), key=lambda k: k.name) if app is not None else []


def _asked(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() == "true"


async def get_api_keys(edge: EdgeBackend, request: Request) -> Response:
    prefix = request.query_params.get("name", "")
    items = [
        _view(k, _asked(request, "includeValues")) for k in _keys(edge) if k.name.startswith(prefix)
    ]
    return Response(orjson.dumps({"item": items}), media_type=REST_JSON)


async def get_api_key(edge: EdgeBackend, request: Request) -> Response:
    wanted = request.path_params["api_key"]
    for key in _keys(edge):
        if key.id == wanted:
            return Response(
                orjson.dumps(_view(key, _asked(request, "includeValue"))), media_type=REST_JSON
            )
    return rest_error(404, "NotFoundException", "Invalid API Key identifier specified")
