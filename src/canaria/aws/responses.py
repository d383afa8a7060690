"""AWS error and success shapes for the two wire protocols the edge speaks.

- rest-json (Lambda): the status code carries the class, ``X-Amzn-ErrorType`` the code,
  the body ``{"Type": "User", "message": ...}``.
- json 1.0 / 1.1 (CodeDeploy, Step Functions): status 400, body
  ``{"__type": code, "message": ...}``.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from canaria.errors import CanariaError

REST_JSON = "application/json"
AMZ_JSON_11 = "application/x-amz-json-1.1"
AMZ_JSON_10 = "application/x-amz-json-1.0"


def json_response(
    body: Any, status: int = 200, media_type: str = REST_JSON, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)


def rest_error(status: int, code: str, message: str) -> Response:
    return Response(
        orjson.dumps({"Type": "User", "message": message}),
        status_code=status,
        media_type=REST_JSON,
        headers={"X-Amzn-ErrorType": code},
    )


def rest_error_from(exc: CanariaError) -> Response:
    return rest_error(exc.http_status, exc.code, exc.message)


def json_error(
    code: str, message: str, media_type: str = AMZ_JSON_11, status: int = 400
) -> Response:
    return Response(
        orjson.dumps({"__type": code, "message": message}),
        status_code=status,
        media_type=media_type,
    )
