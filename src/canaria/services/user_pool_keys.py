"""The keys the services engine signs every user pool's tokens with.

moto signs the ID and access tokens of all its pools with one RSA key pair that ships in
its package (``cognitoidp/resources``), and serves the public half as each pool's JWKS.
The gateway's Cognito and JWT authorizers check a token of one of the template's pools
against it (``gateway.authorizers.TokenKeys``), as API Gateway checks a token against its
pool's keys. The file is read, not fetched from the engine: the gateway needs no request
of its own to the engine, and no answer to wait for, on the path of a request.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from typing import Any

from joserfc.jwk import KeySet, RSAKey

_PUBLIC = "cognitoidp/resources/jwks-public.json.gz"
_PRIVATE = "cognitoidp/resources/jwks-private.json.gz"


def _resource(name: str) -> dict[str, Any]:
    return dict(json.loads(gzip.decompress(resources.files("moto").joinpath(name).read_bytes())))


def engine_token_keys() -> KeySet:
    """The engine's public JWKS (one RS256 key, named by ``kid``)."""
    return KeySet.import_key_set(_resource(_PUBLIC))  # type: ignore[arg-type]


def engine_signing_key() -> RSAKey:
    """The private key the engine signs with: a ``PreTokenGeneration`` trigger's changes
    to an ID token are signed again with it (``services.user_pool_triggers``), so the
    token still opens the template's authorizers, as Cognito's own would."""
    return RSAKey.import_key(_resource(_PRIVATE))


__all__ = ["engine_signing_key", "engine_token_keys"]
