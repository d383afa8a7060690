"""Lambda function identifiers: names, ``name:qualifier``, partial and full ARNs."""

from __future__ import annotations

import hashlib
import re
import uuid

from canaria.errors import InvalidRequest

REGION = "us-east-1"
ACCOUNT = "123456789012"

_FULL = re.compile(
    r"^arn:aws[a-z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)
_PARTIAL = re.compile(
    r"^(?:(?P<account>\d{12}):function:)?(?P<name>[A-Za-z0-9_-]+)"
    r"(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)


def parse_function(identifier: str, qualifier: str | None = None) -> tuple[str, str | None]:
    """``(name, qualifier)`` from any form Lambda accepts; a conflicting qualifier is refused."""
    m = _FULL.match(identifier) or _PARTIAL.match(identifier)
    if m is None:
        raise InvalidRequest(
            f"1 validation error detected: Value '{identifier}' at 'functionName' failed to "
            "satisfy constraint: Member must satisfy regular expression pattern: "
            "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?"
            "(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
        )
    embedded = m.group("qualifier")
    if embedded and qualifier and embedded != qualifier:
        raise InvalidRequest(
            "The derived qualifier from the function name does not match the specified qualifier."
        )
    return m.group("name"), embedded or qualifier


def stack_arn(stack: str) -> str:
    """A stack's id (``AWS::StackId``, ``DescribeStacks``' ``StackId``): the same for a
    stack name at every start, as a stack keeps its id."""
    tail = uuid.uuid5(uuid.NAMESPACE_URL, f"canaria:stack:{stack}")
    return f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack}/{tail}"


def function_arn(name: str, qualifier: str | None = None) -> str:
    base = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    return f"{base}:{qualifier}" if qualifier else base


def function_url_id(function: str) -> str:
    """The id in a function URL's host (``https://<id>.lambda-url.<region>.on.aws/``):
    32 lowercase letters and digits, as Lambda's, the same for a function every time."""
    return hashlib.sha256(f"canaria:function-url:{function}".encode()).hexdigest()[:32]


def function_url(function: str) -> str:
    """What ``!GetAtt <Fn>Url.FunctionUrl`` gives: Lambda's URL for the function."""
    return f"https://{function_url_id(function)}.lambda-url.{REGION}.on.aws/"


def layer_arn(name: str) -> str:
    """A layer of the template: what its ``!Ref`` gives (Lambda's layer version ARN)."""
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{name}:1"
