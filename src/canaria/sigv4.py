"""Verify AWS Signature Version 4 on requests to the edge, with botocore's own signer.

The operator's keys and each function's are derived from canaria's token
(``canaria.auth.Keyring``); a request whose access key is unknown, or whose signature
does not verify with that key's secret, is refused, as AWS would refuse it. Also as AWS:

- ``X-Amz-Date`` must be within 15 minutes of the wall clock (the SDK signs with the
  machine's time, so this is the real clock, never canaria's virtual one), and the
  credential scope's date must be that date;
- the body is part of the signature: a signed ``x-amz-content-sha256`` must be the body's
  SHA-256 (botocore would otherwise take the header's word for it), and
  ``UNSIGNED-PAYLOAD`` is refused (AWS allows it for S3 only, which is not on this edge);
- replays: as on AWS, the 15-minute window bounds them. A signature is not refused for
  being seen before: the SDKs sign only ``host`` and ``x-amz-date`` (not their
  invocation id), so the same call made twice in one second carries the same signature,
  and refusing repeats would refuse those calls.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<akid>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request,\s*SignedHeaders=(?P<signed>[^,]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


MAX_SKEW_S = 15 * 60
_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")


def _format(t: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def check_date(amz_date: str, scope_date: str, now: float) -> str | None:
    """AWS's rules for ``X-Amz-Date``: well-formed, the scope's day, within 15 minutes."""
    if not _AMZ_DATE.match(amz_date):
        return f"X-Amz-Date {amz_date!r} is not in the form YYYYMMDD'T'HHMMSS'Z'"
    d = amz_date  # the form is checked: slices are digits (strptime costs 18 µs here)
    try:
        signed_at = calendar.timegm(
            datetime(
                int(d[:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]), int(d[13:15])
            ).timetuple()
        )
    except ValueError:
        return f"X-Amz-Date {amz_date!r} is not a date"
    if amz_date[:8] != scope_date:
        return (
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
            f"date from HTTP: '{scope_date}' != '{amz_date[:8]}'"
        )
    if signed_at < now - MAX_SKEW_S:
        return (
            f"Signature expired: {amz_date} is now earlier than {_format(now - MAX_SKEW_S)} "
            f"({_format(now)} - 15 min.)"
        )
    if signed_at > now + MAX_SKEW_S:
        return (
            f"Signature not yet current: {amz_date} is still later than "
            f"{_format(now + MAX_SKEW_S)} ({_format(now)} + 15 min.)"
        )
    return None


def verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    *,
    now: float,
) -> tuple[str | None, str]:
    """(``None``, access key id) when the signature is valid, else (the reason it is not,
    the access key id named). ``secret_for`` gives an access key id's secret, or ``None``
    for a key canaria did not issue."""
    problem = _verify(method, url, headers, body, secret_for, now)
    m = _AUTH.match(headers.get("authorization", "").strip())
    return problem, m.group("akid") if m else ""


def credential_scope(authorization: str) -> tuple[str, str] | None:
    """(access key id, service) an ``Authorization`` header's credential scope names;
    ``None`` when it is not a SigV4 header."""
    m = _AUTH.match(authorization.strip())
    return (m.group("akid"), m.group("service")) if m else None


def precheck(
    headers: Mapping[str, str], secret_for: Callable[[str], str | None], now: float
) -> str | None:
    """What can be refused from the headers alone, before a byte of the body is read:
    the Authorization header's form, a key canaria issued, the date, the payload hash
    declaration."""
    header = headers.get("authorization")
    if not header:
        return "Missing Authentication Token"
    m = _AUTH.match(header.strip())
    if m is None:
        return "Authorization header requires AWS4-HMAC-SHA256 with Credential, SignedHeaders "
    if secret_for(m.group("akid")) is None:
        return "The security token included in the request is invalid."
    amz_date = headers.get("x-amz-date")
    if not amz_date:
        return "Authorization requires an X-Amz-Date header"
    stale = check_date(amz_date, m.group("date"), now)
    if stale is not None:
        return stale
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and (
        declared == "UNSIGNED-PAYLOAD" or declared.startswith("STREAMING-")
    ):
        return (
            f"x-amz-content-sha256 {declared} is not accepted by {m.group('service')}: "
            "the payload must be signed (AWS allows unsigned payloads for S3 only)"
        )
    return None


@functools.lru_cache(maxsize=256)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """SigV4's signing key: four HMACs from the secret over the scope, the same for every
    request of a key's day, region and service (botocore derives it for each request)."""
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _verify(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    secret_for: Callable[[str], str | None],
    now: float,
) -> str | None:
    problem = precheck(headers, secret_for, now)
    if problem is not None:
        return problem
    m = _AUTH.match(headers.get("authorization", "").strip())
    assert m is not None  # precheck refused it otherwise
    access_key = m.group("akid")
    secret_key = secret_for(access_key)
    assert secret_key is not None
    amz_date = headers.get("x-amz-date", "")
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and not hmac.compare_digest(declared, hashlib.sha256(body).hexdigest()):
        return "The provided 'x-amz-content-sha256' header does not match what was computed."
    signed = m.group("signed").split(";")
    request = AWSRequest(
        method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed}
    )
    request.context["timestamp"] = amz_date
    service, region = m.group("service"), m.group("region")
    signer = SigV4Auth(Credentials(access_key, secret_key), service, region)
    string_to_sign = signer.string_to_sign(request, signer.canonical_request(request))
    key = _signing_key(secret_key, amz_date[:8], region, service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, m.group("signature")):
        return (
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method."
        )
    return None
