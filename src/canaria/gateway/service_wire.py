"""The AWS wire formats API Gateway speaks to services for its integrations: which
``X-Amz-Target`` a JSON-protocol service's action takes, an HTTP API subtype's flat
parameters as the action's request, and a query-protocol service's XML answer (SQS, SNS)
as the JSON API Gateway hands its response templates: ``{"<Action>Response":
{"<Action>Result": {...}, "ResponseMetadata": {...}}}`` with every member of the action's
output (null when absent) and lists as lists, read with botocore's model of the service.
"""

from __future__ import annotations

import base64
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import orjson

from .responses import JSON
from .types import Inbound

# services whose actions API Gateway calls with the query protocol (``Action=`` and form
# parameters; XML answers, which it hands on as JSON)
QUERY_SERVICES = frozenset({"sqs", "sns"})


def action_body(subtype: str, params: Mapping[str, str]) -> dict[str, Any]:
    """The action's JSON request from a subtype's flat parameters."""
    out: dict[str, Any] = dict(params)
    if subtype == "EventBridge-PutEvents":
        entry: dict[str, Any] = dict(params)
        entry.pop("Region", None)
        if isinstance(entry.get("Resources"), str):
            entry["Resources"] = [r.strip() for r in entry["Resources"].split(",") if r.strip()]
        return {"Entries": [entry]}
    for number in ("DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"):
        if number in out and str(out[number]).isdigit():
            out[number] = int(out[number])
    for structured in ("MessageAttributes", "MessageSystemAttributes"):
        if isinstance(out.get(structured), str):
            with contextlib.suppress(orjson.JSONDecodeError):
                out[structured] = orjson.loads(out[structured])
    if subtype == "Kinesis-PutRecord" and isinstance(out.get("Data"), str):
        out["Data"] = base64.b64encode(out["Data"].encode()).decode()
    out.pop("Region", None)
    if subtype.startswith("StepFunctions-"):  # Step Functions' API names them in camelCase
        return {k[:1].lower() + k[1:]: v for k, v in out.items()}
    return out


_BOTOCORE_NAMES = {"states": "stepfunctions"}  # a URI's service → botocore's name


@lru_cache(maxsize=64)
def json_target(service: str) -> tuple[str, str] | None:
    """(``X-Amz-Target`` prefix, JSON version) of a JSON-protocol service, else None."""
    if service in QUERY_SERVICES:
        return None
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(
            _BOTOCORE_NAMES.get(service, service)
        )
    except Exception:
        return None
    metadata = model.metadata
    prefix = metadata.get("targetPrefix")
    if metadata.get("protocol") != "json" or not prefix:
        return None
    return str(prefix), str(metadata.get("jsonVersion", "1.0"))


def json_of_query_answer(answer: Inbound, service: str, action: str | None) -> Inbound:
    """A query-protocol service's XML answer as the JSON API Gateway receives it:
    ``{"<Action>Response": {"<Action>Result": {...}, "ResponseMetadata": {...}}}``, each
    member of the action's output present (null when absent), as AWS's JSON writes it."""
    content_type = (answer.header("content-type") or "").lower()
    if "xml" not in content_type and not answer.body.lstrip().startswith(b"<"):
        return answer
    try:
        root = ET.fromstring(answer.body)
    except ET.ParseError:
        return answer
    shape = _output_shape(service, action) if action else None
    data: dict[str, Any] = {}
    for child in root:
        tag = _local(child.tag)
        if shape is not None and tag.endswith("Result"):
            data[tag] = _shaped(shape, child, service)
        else:
            data[tag] = _element(child)
    headers = [
        (k, v) for k, v in answer.headers if k.lower() not in ("content-type", "content-length")
    ]
    body = orjson.dumps({_local(root.tag): data})
    return Inbound(answer.status, [*headers, ("Content-Type", JSON)], body)


# where AWS's JSON names a member otherwise than the service's model does
_JSON_NAMES = {("sqs", "Messages"): "messages"}


@lru_cache(maxsize=64)
def _output_shape(service: str, action: str) -> Any:
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
        return model.operation_model(action).output_shape
    except Exception:
        return None


def _shaped(shape: Any, element: ET.Element, service: str) -> Any:
    """``element`` read as ``shape`` (a botocore shape): structures with every member,
    lists and maps whether flattened or wrapped, numbers and booleans typed."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        children = list(element)
        for name in sorted(shape.members):
            member = shape.members[name]
            tags = {name, member.serialization.get("name", name)}
            if member.type_name in ("list", "map") and member.serialization.get("flattened"):
                inner = member.member if member.type_name == "list" else member
                # a flattened entry's element: its shape's name, or the member's singular
                tags |= {inner.name, inner.serialization.get("name", inner.name)}
                tags.add(name.removesuffix("s"))
                found = [c for c in children if _local(c.tag) in tags]
                value = _collection(member, found, service) if found else None
            else:
                match = next((c for c in children if _local(c.tag) in tags), None)
                value = None if match is None else _shaped(member, match, service)
            out[_JSON_NAMES.get((service, name), name)] = value
        return out
    if kind in ("list", "map"):
        return _collection(shape, list(element), service)
    text = element.text or ""
    if kind in ("integer", "long"):
        return int(text) if text.lstrip("-").isdigit() else text
    if kind == "boolean":
        return text.lower() == "true"
    return text


def _collection(shape: Any, items: list[ET.Element], service: str) -> Any:
    if shape.type_name == "list":
        return [_shaped(shape.member, item, service) for item in items]
    out: dict[str, Any] = {}
    for entry in items:
        parts = {_local(c.tag).lower(): c for c in entry}
        key, value = parts.get("name", parts.get("key")), parts.get("value")
        if key is not None:
            out[key.text or ""] = None if value is None else _shaped(shape.value, value, service)
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element(element: ET.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    out: dict[str, Any] = {}
    for child in children:
        key = _local(child.tag)
        value = _element(child)
        if key in out:
            previous = out[key]
            out[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[key] = value
    return out


__all__ = ["QUERY_SERVICES", "action_body", "json_of_query_answer", "json_target"]
