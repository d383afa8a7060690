"""examples/intake through a real `canaria up`: REST methods that are API Gateway
integrations with mapping templates, not Lambda proxies. An order goes to SQS (a ``path/``
integration), the queue's reader stores it in DynamoDB, a ``GetItem`` action reads it back
through a response template; Step Functions and a mock answer without code; a function
invoked with a mapping template maps its errors by selection pattern, and a canary of a
failing version is rolled back by the judge although API Gateway answers its clients 200."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.harness import Canaria, copy_example, eventually

pytestmark = pytest.mark.slow

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def intake(tmp_path: Path) -> Iterator[Canaria]:
    app = copy_example("intake", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state", clock="real").start()
    yield c
    c.stop()


def body(answer: tuple[int, dict[str, str], bytes]) -> object:
    return json.loads(answer[2])


def test_methods_that_call_services_directly(intake: Canaria) -> None:
    order = json.dumps({"id": "o-1", "item": "widget", "quantity": 3}).encode()
    status, headers, raw = intake.http("POST", "/Prod/orders", order, JSON)
    assert status == 202, raw
    accepted = json.loads(raw)["accepted"]
    assert len(accepted) == 36  # SQS's MessageId, read from SendMessageResponse
    assert headers["content-type"] == "application/json"

    def stored() -> object:
        status, _, raw = intake.http("GET", "/Prod/orders/o-1")
        return json.loads(raw) if status == 200 else None

    assert eventually(stored, "the order read back from DynamoDB") == {
        "id": "o-1",
        "item": "widget",
        "quantity": 3,
    }
    missing = intake.http("GET", "/Prod/orders/nope")
    assert missing[0] == 404 and body(missing) == {"message": "no order nope"}

    # not JSON, and the method's PassthroughBehavior is NEVER
    refused = intake.http("POST", "/Prod/orders", b"x", {"Content-Type": "text/plain"})
    assert refused[0] == 415 and body(refused) == {"message": "Unsupported Media Type"}

    started = intake.http("POST", "/Prod/audits", b'{"who": "me"}', JSON)
    assert started[0] == 200, started
    execution = body(started)
    assert isinstance(execution, dict)
    assert execution["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:")
    sfn = intake.aws("stepfunctions")
    done = eventually(
        lambda: (
            d
            if (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"]
            != "RUNNING"
            else None
        ),
        "the audit execution",
    )
    assert (done["status"], json.loads(done["input"])) == ("SUCCEEDED", {"who": "me"})

    # `canaria status` names what each method calls
    shown = intake.cli("status").stdout
    for line in (
        "POST /orders of Api: sqs path /123456789012/intake-Intake",
        "GET /orders/{id} of Api: dynamodb:GetItem",
        "POST /audits of Api: states:StartExecution",
        "GET /health of Api: mock",
    ):
        assert line in shown, shown
    (quotes,) = intake.status()["functions"]["Quote"]["routes"]
    assert (quotes["path"], quotes["integration"]) == ("/quotes", "Quote (mapping templates)")

    health = intake.http("GET", "/Prod/health")
    assert health[0] == 200 and body(health) == {"status": "ok", "stage": "Prod"}
    assert health[1]["cache-control"] == "no-store"


def test_a_mapped_function_is_judged_like_a_proxy(intake: Canaria) -> None:
    quote = intake.http("POST", "/Prod/quotes", b'{"item": "gadget", "quantity": 2}', JSON)
    assert quote[0] == 200 and body(quote) == {"item": "gadget", "quantity": 2, "cents": 2400}
    bad = intake.http("POST", "/Prod/quotes", b'{"item": "gadget", "quantity": 0}', JSON)
    assert bad[0] == 400 and body(bad) == {"message": "bad quantity: 0"}

    # v2 fails every quote with an error no selection pattern matches: API Gateway's
    # default response answers 200 with the error, so only the judge can tell
    source = intake.template.parent / "src" / "quote.py"
    source.write_text(
        source.read_text().replace(
            "    quantity = event.get",
            '    raise RuntimeError("pricing is down")\n    quantity = event.get',
        )
    )
    answers: list[tuple[int, bytes]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            status, _, raw = intake.http(
                "POST", "/Prod/quotes", b'{"item": "widget", "quantity": 1}', JSON
            )
            answers.append((status, raw))
            time.sleep(0.01)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        deployed = intake.cli("deploy", "-t", str(intake.template), "--wait")
    finally:
        stop.set()
        thread.join(timeout=30)
    output = deployed.stdout + deployed.stderr
    assert "rolled back" in output and "the judge" in output, output
    assert intake.alias("Quote")["version"] == 1
    failed = [raw for status, raw in answers if b"pricing is down" in raw]
    assert all(status == 200 for status, _ in answers)
    assert 1 <= len(failed) <= 10, len(failed)  # the canary's failed quotes before the rollback
