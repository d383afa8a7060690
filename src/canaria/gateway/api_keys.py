"""API keys: a REST method that requires one (``ApiKeyRequired``) answers only requests
whose ``x-api-key`` header holds the value of a key it accepts (an enabled key that a
usage plan, or the key's ``StageKeys``, associates with its API's stage).

API Gateway checks the key after authorization, and so does the handler. A request
without the header, or with a value the method does not accept (unknown, disabled, or
another stage's), is answered as AWS answers it: 403 ``{"message": "Forbidden"}`` with
``x-amzn-ErrorType: ForbiddenException``, the REST response type ``INVALID_API_KEY`` (which
``GatewayResponses`` may change). A request that passes gives its event the key:
``requestContext.identity.apiKey`` (its value) and ``apiKeyId`` (its id).
"""

from __future__ import annotations

from collections.abc import Mapping

from .responses import json_answer
from .types import Request

HEADER = "x-api-key"
INVALID_API_KEY = json_answer(
    403, {"message": "Forbidden"}, "ForbiddenException", "INVALID_API_KEY"
)


def api_key_of(req: Request, accepted: Mapping[str, str]) -> tuple[str, str] | None:
    """(value, id) of the key ``req`` presents when ``accepted`` (value → id) holds it."""
    value = req.header(HEADER)
    if value is None:
        return None
    key_id = accepted.get(value)
    return None if key_id is None else (value, key_id)
