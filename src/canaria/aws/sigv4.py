"""Verify AWS Signature Version 4 on requests to the edge, with botocore's own signer.

Functions get credentials derived from canaria's token (``canaria.auth``); a request
whose signature does not verify with that secret is refused, as AWS would refuse it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping

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
    access_key: str,
    secret_key: str,
) -> str | None:
    """``None`` when the signature is valid, else the reason it is not."""
    header = headers.get("authorization")
    if not header:
        return "Missing Authentication Token"
    m = _AUTH.match(header.strip())
    if m is None:
        return "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders "
    if m.group("akid") != access_key:
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
