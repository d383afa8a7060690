"""``AWS::DynamoDB::Table`` and ``AWS::Serverless::SimpleTable`` → ``TableSpec``.

The definition is a DynamoDB ``CreateTable`` request body. CloudFormation-only properties
(TimeToLiveSpecification, PointInTimeRecoverySpecification, ...) are left out of it, and
the two that differ in shape are translated: ``StreamSpecification`` gains
``StreamEnabled``, ``SSESpecification.SSEEnabled`` becomes ``Enabled``.
"""

from __future__ import annotations

from typing import Any

from canaria.models import TableSpec
from canaria.template.context import Context
from canaria.template.index import Entry
from canaria.template.intrinsics import NO_VALUE
from canaria.template.nodes import Where, as_int, as_list, as_map, as_str, check_keys, plain
from canaria.template.sam_rules import sam_properties

CREATE_TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "LocalSecondaryIndexes",
    "GlobalSecondaryIndexes",
    "BillingMode",
    "ProvisionedThroughput",
    "StreamSpecification",
    "SSESpecification",
    "Tags",
    "TableClass",
    "DeletionProtectionEnabled",
    "ResourcePolicy",
    "OnDemandThroughput",
    "WarmThroughput",
)
CFN_ONLY_KEYS = (
    "TableName",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
    "ContributorInsightsSpecification",
    "KinesisStreamSpecification",
    "ImportSourceSpecification",
)
SIMPLE_TABLE_KEYS = (
    "PrimaryKey",
    "ProvisionedThroughput",
    "TableName",
    "Tags",
    "SSESpecification",
    "PointInTimeRecoverySpecification",
)
KEY_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
_INDEX_KEYS = (
    "IndexName",
    "KeySchema",
    "Projection",
    "ProvisionedThroughput",
    "OnDemandThroughput",
    "WarmThroughput",
)


def build_table(ctx: Context, entry: Entry) -> TableSpec:
    check_keys(
        entry.props, entry.props_at, CREATE_TABLE_KEYS + CFN_ONLY_KEYS, required=("KeySchema",)
    )
    body: dict[str, Any] = {}
    for key in CREATE_TABLE_KEYS:
        value = ctx.get(entry, key)
        if value is not NO_VALUE:
            body[key] = value
    definitions = as_list(
        body.get("AttributeDefinitions", []), ctx.at(entry, "AttributeDefinitions")
    )
    defined: set[str] = set()
    for i, item in enumerate(definitions):
        at = ctx.at(entry, "AttributeDefinitions").index(definitions, i)
        item = as_map(item, at)
        check_keys(
            item,
            at,
            ("AttributeName", "AttributeType"),
            required=("AttributeName", "AttributeType"),
        )
        if as_str(item["AttributeType"], at.key(item, "AttributeType")) not in ("S", "N", "B"):
            raise at.key(item, "AttributeType").error("unknown attribute type", allowed="S, N, B")
        defined.add(as_str(item["AttributeName"], at.key(item, "AttributeName")))
    _check_keys_defined(body["KeySchema"], ctx.at(entry, "KeySchema"), defined)
    for index_key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if index_key in body:
            iat = ctx.at(entry, index_key)
            cleaned = []
            for i, index in enumerate(as_list(body[index_key], iat)):
                at = iat.index(body[index_key], i)
                index = as_map(index, at)
                if "KeySchema" not in index:
                    raise at.error("KeySchema is required")
                _check_keys_defined(index["KeySchema"], at.key(index, "KeySchema"), defined)
                cleaned.append({k: v for k, v in index.items() if k in _INDEX_KEYS})
            body[index_key] = cleaned
    billing = as_str(body.get("BillingMode", "PROVISIONED"), ctx.at(entry, "BillingMode"))
    if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
        raise ctx.at(entry, "BillingMode").error(
            f"unknown BillingMode {billing!r}", allowed="PROVISIONED, PAY_PER_REQUEST"
        )
    if billing == "PROVISIONED" and "ProvisionedThroughput" not in body:
        raise entry.props_at.at(entry.props).error(
            "ProvisionedThroughput is required when BillingMode is PROVISIONED (the default)",
            allowed="BillingMode: PAY_PER_REQUEST, or ProvisionedThroughput",
        )
    if "ProvisionedThroughput" in body:
        body["ProvisionedThroughput"] = _throughput(
            body["ProvisionedThroughput"], ctx.at(entry, "ProvisionedThroughput")
        )
    if "StreamSpecification" in body:
        stream = as_map(body["StreamSpecification"], ctx.at(entry, "StreamSpecification"))
        body["StreamSpecification"] = {"StreamEnabled": True, **stream}
    if "SSESpecification" in body:
        body["SSESpecification"] = _sse(body["SSESpecification"], ctx.at(entry, "SSESpecification"))
    name = ctx.index.name_of(entry.logical_id)
    return TableSpec(entry.logical_id, name, {"TableName": name, **plain(body)})


def build_simple_table(ctx: Context, entry: Entry) -> TableSpec:
    check_keys(entry.props, entry.props_at, (*SIMPLE_TABLE_KEYS, *sam_properties(entry.type)))
    key_name, key_type = "id", "S"
    primary = ctx.get(entry, "PrimaryKey")
    if primary is not NO_VALUE:
        at = ctx.at(entry, "PrimaryKey")
        primary = as_map(primary, at)
        check_keys(primary, at, ("Name", "Type"), required=("Name", "Type"))
        key_name = as_str(primary["Name"], at.key(primary, "Name"))
        written = as_str(primary["Type"], at.key(primary, "Type"))
        if written not in KEY_TYPES:
            raise at.key(primary, "Type").error(f"unknown key type {written!r}", allowed=KEY_TYPES)
        key_type = KEY_TYPES[written]
    name = ctx.index.name_of(entry.logical_id)
    body: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": key_name, "AttributeType": key_type}],
        "KeySchema": [{"AttributeName": key_name, "KeyType": "HASH"}],
    }
    throughput = ctx.get(entry, "ProvisionedThroughput")
    if throughput is NO_VALUE:
        body["BillingMode"] = "PAY_PER_REQUEST"
    else:
        body["BillingMode"] = "PROVISIONED"
        body["ProvisionedThroughput"] = _throughput(
            throughput, ctx.at(entry, "ProvisionedThroughput")
        )
    sse = ctx.get(entry, "SSESpecification")
    if sse is not NO_VALUE:
        body["SSESpecification"] = _sse(sse, ctx.at(entry, "SSESpecification"))
    tags = ctx.get(entry, "Tags")
    if tags is not NO_VALUE:
        tmap = as_map(tags, ctx.at(entry, "Tags"))
        body["Tags"] = [
            {"Key": k, "Value": as_str(v, ctx.at(entry, "Tags"))} for k, v in tmap.items()
        ]
    return TableSpec(entry.logical_id, name, body)


def _check_keys_defined(schema: Any, at: Where, defined: set[str]) -> None:
    items = as_list(schema, at)
    if not items:
        raise at.error("KeySchema must name a HASH key")
    for i, item in enumerate(items):
        iat = at.index(schema, i)
        key = as_map(item, iat)
        check_keys(key, iat, ("AttributeName", "KeyType"), required=("AttributeName", "KeyType"))
        name = as_str(key["AttributeName"], iat.key(key, "AttributeName"))
        if name not in defined:
            raise iat.key(key, "AttributeName").error(
                f"key attribute {name!r} is not in AttributeDefinitions",
                allowed=", ".join(sorted(defined)) or "none defined",
            )
        if key["KeyType"] not in ("HASH", "RANGE"):
            raise iat.key(key, "KeyType").error("unknown KeyType", allowed="HASH, RANGE")


def _throughput(value: Any, at: Where) -> dict[str, int]:
    node = as_map(value, at)
    check_keys(
        node,
        at,
        ("ReadCapacityUnits", "WriteCapacityUnits"),
        required=("ReadCapacityUnits", "WriteCapacityUnits"),
    )
    return {k: as_int(node[k], at.key(node, k), 0) for k in node}


def _sse(value: Any, at: Where) -> dict[str, Any]:
    node = dict(as_map(value, at))
    if "SSEEnabled" in node:
        node["Enabled"] = node.pop("SSEEnabled")
    return {k: v for k, v in plain(node).items() if k in ("Enabled", "SSEType", "KMSMasterKeyId")}
