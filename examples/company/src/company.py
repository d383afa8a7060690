"""The company registry's four handlers, written as for AWS Lambda behind an HTTP API.

`boto3.resource("dynamodb")` names no endpoint: on AWS it reaches DynamoDB, on canaria
the environment points the SDK at the local engine.

RELEASE selects what each demo release changes, so the five releases read as one file:
v2 adds `registered_at`; v3 crashes on companies with more than 1000 employees; v4's get
answers 200 instead of 204 for a company that does not exist; v5 answers `id` instead of
`company_id`, breaking the contract the PreTraffic hook checks.
"""

import json
import os
import time
import uuid
from decimal import Decimal

import boto3

RELEASE = os.environ.get("RELEASE", "v1")
table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def _answer(status, body=None):
    answer = {"statusCode": status, "headers": {"content-type": "application/json"}}
    if body is not None:
        answer["body"] = json.dumps(body, default=_plain)
    return answer


def _plain(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"not JSON: {value!r}")


def _problems(body):
    problems = []
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name is required and must be a non-empty string")
    employees = body.get("employees")
    if employees is not None and (isinstance(employees, bool) or not isinstance(employees, int)):
        problems.append("employees must be an integer")
    return problems


def save(event, context):
    """POST /company creates (201 and a new company_id), PUT /company updates (200)."""
    try:
        body = json.loads(event.get("body") or "null")
    except ValueError:
        return _answer(400, {"problems": ["the body is not JSON"]})
    problems = _problems(body)
    method = event["requestContext"]["http"]["method"]
    if method == "PUT" and isinstance(body, dict) and not body.get("company_id"):
        problems.append("company_id is required to update")
    if problems:
        return _answer(400, {"problems": problems})
    if RELEASE == "v3" and (body.get("employees") or 0) > 1000:
        raise RuntimeError("v3 cannot store large companies")  # the faulty release
    item = {"company_id": body.get("company_id") or str(uuid.uuid4()), "name": body["name"]}
    if body.get("employees") is not None:
        item["employees"] = body["employees"]
    if RELEASE != "v1":
        item["registered_at"] = int(time.time())
    table.put_item(Item=item)
    created = method == "POST"
    print(f"{'created' if created else 'updated'} company {item['company_id']}")
    if RELEASE == "v5":
        item["id"] = item.pop("company_id")
    return _answer(201 if created else 200, item)


def get(event, context):
    """GET /company/{company_id}: 200 with the company, 204 when there is none."""
    company_id = event["pathParameters"]["company_id"]
    item = table.get_item(Key={"company_id": company_id}).get("Item")
    if item is None:
        return _answer(200, {}) if RELEASE == "v4" else _answer(204)
    return _answer(200, item)


def list_companies(event, context):
    """GET /company: every company (a scan; the registry is small)."""
    items, kwargs = [], {}
    while True:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return _answer(200, {"companies": sorted(items, key=lambda i: i["name"])})


def delete(event, context):
    """DELETE /company/{company_id}: 204 whether or not it existed."""
    table.delete_item(Key={"company_id": event["pathParameters"]["company_id"]})
    return _answer(204)
