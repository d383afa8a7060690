"""The public keys the services engine signs every user pool's tokens with.

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

from joserfc.jwk import KeySet

_RESOURCE = "cognitoidp/resources/jwks-public.json.gz"


def engine_token_keys() -> KeySet:
    """The engine's public JWKS (one RS256 key, named by ``kid``)."""
    raw = resources.files("moto").joinpath(_RESOURCE).read_bytes()
    return KeySet.import_key_set(json.loads(gzip.decompress(raw)))


__all__ = ["engine_token_keys"]
