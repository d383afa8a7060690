"""A call signed for a service canaria's edge does not serve gets an SDK error that names
the service, in every wire protocol (JSON, CBOR, query, REST-XML, REST-JSON); a call to a
service canaria serves elsewhere says where; Lambda's own calls are served, listing
functions and aliases too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.functional.harness import Canaria, copy_example


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    tmp = tmp_path_factory.mktemp("unserved")
    app = copy_example("hello", tmp)
    c = Canaria(app / "template.yaml", Path(tmp) / "state").start()
    yield c
    c.stop()


@pytest.mark.parametrize(
    ("service", "call", "named"),
    [
        (
            "ses",
            lambda c: c.send_email(
                Source="a@example.com",
                Destination={"ToAddresses": ["b@example.com"]},
                Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}},
            ),
            "'ses' (SES)",
        ),
        ("xray", lambda c: c.get_sampling_rules(), "'xray' (X-Ray)"),
        ("sts", lambda c: c.get_caller_identity(), "'sts' (STS)"),
        ("route53", lambda c: c.list_hosted_zones(), "'route53'"),
        ("apigateway", lambda c: c.get_rest_apis(), "'apigateway' (API Gateway)"),
    ],
)
def test_an_unserved_service_is_named(
    hello: Canaria, service: str, call: Callable[[Any], Any], named: str
) -> None:
    with pytest.raises(ClientError) as info:
        call(hello.aws(service))
    error = info.value.response["Error"]
    assert error["Code"] == "NotServedByCanaria"
    assert error["Message"].startswith(f"canaria does not serve the AWS service {named}")
    assert "Lambda, CodeDeploy, Step Functions" in error["Message"]


@pytest.mark.parametrize(
    ("service", "call", "variable"),
    [
        ("s3", lambda c: c.list_buckets(), "AWS_ENDPOINT_URL_S3"),
        ("secretsmanager", lambda c: c.list_secrets(), "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
        ("dynamodb", lambda c: c.list_tables(), "AWS_ENDPOINT_URL_DYNAMODB"),
    ],
)
def test_a_service_served_elsewhere_says_where(
    hello: Canaria, service: str, call: Callable[[Any], Any], variable: str
) -> None:
    with pytest.raises(ClientError) as info:
        call(hello.aws(service))
    error = info.value.response["Error"]
    assert error["Code"] == "NotServedByCanaria"
    assert f"({variable} in every function's environment)" in error["Message"]


def test_the_edge_still_serves_lambda(hello: Canaria) -> None:
    got = hello.aws("lambda").invoke(FunctionName="HelloFunction", Payload=b"{}")
    assert got["StatusCode"] == 200


def test_the_edge_lists_functions_and_their_aliases(hello: Canaria) -> None:
    lam = hello.aws("lambda")
    functions = lam.list_functions()["Functions"]
    assert [f["FunctionName"] for f in functions] == ["HelloFunction", "PreTrafficHook"]
    assert {f["Version"] for f in functions} == {"$LATEST"}
    every = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"]) for f in every][:2] == [
        ("HelloFunction", "$LATEST"),
        ("HelloFunction", "1"),
    ]
    pages = lam.get_paginator("list_functions").paginate(
        FunctionVersion="ALL", PaginationConfig={"PageSize": 1}
    )
    assert [len(p["Functions"]) for p in pages] == [1] * len(every)
    aliases = lam.list_aliases(FunctionName="HelloFunction")["Aliases"]
    assert [(a["Name"], a["FunctionVersion"]) for a in aliases] == [("live", "1")]
    assert lam.list_aliases(FunctionName="HelloFunction", FunctionVersion="7")["Aliases"] == []
