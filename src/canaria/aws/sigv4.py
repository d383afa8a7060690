"""Verify AWS Signature Version 4 on requests to the edge, with botocore's own signer.

The operator's keys and each function's are derived from canaria's token
(``canaria.auth.Keyring``); a request whose access key is unknown, or whose signature
does not verify with that key's secret, is refused, as AWS would refuse it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
) -> tuple[str | None, str]:
    """(``None``, access key id) when the signature is valid, else (the reason it is not,
    the access key id named). ``secret_for`` gives an access key id's secret, or ``None``
    for a key canaria did not issue."""
    problem = _verify(method, url, headers, body, secret_for)
    m = _AUTH.match(headers.get("authorization", "").strip())
    return problem, m.group("akid") if m else ""


def _verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
) -> str | None:
    header = headers.get("authorization")
    if not header:
        return "Missing Authentication Token"
    m = _AUTH.match(header.strip())
    if m is None:
        return "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders "
    access_key = m.group("akid")
    secret_key = secret_for(access_key)
    if secret_key is None:
        return "The security token included in the request is invalid."
    amz_date = headers.get("x-amz-date")
    if not amz_date:
        return "Authorization requires an X-Amz-Date header"
    signed = m.group("signed").split(";")
    request = AWSRequest(
        method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed}
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(access_key, secret_key), m.group("service"), m.group("region"))
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, m.group("signature")):
        return (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None
