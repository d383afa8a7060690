"""Completion reports and the request ids a request gate sent, on SQLite and PostgreSQL;
request gates' ``completion`` in stored deployments, old rows included."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from canaria.errors import Conflict
from canaria.models.deployment import Deployment, RequestGate, SetWeight, Target
from canaria.store import CompletionReport, GateRequest, Store, codec, schema


def deployment(steps: tuple[RequestGate | SetWeight, ...]) -> Deployment:
    return Deployment(
        id="d-GATE00000",
        application="app",
        targets=(Target("Fn", "live", 1, 2),),
        config_name="Batch",
        steps=steps,
        created_at=1.0,
        updated_at=1.0,
    )


def test_the_first_report_of_a_request_stands(any_store: Store) -> None:
    first = CompletionReport("Fn", "r-1", "Failed", "exit 3", 5.0)
    assert any_store.report_completion(first) == (first, True)
    again = CompletionReport("Fn", "r-1", "Failed", "retried", 9.0)
    assert any_store.report_completion(again) == (first, False)  # a retried POST
    with pytest.raises(Conflict, match="request r-1 of Fn already reported Failed"):
        any_store.report_completion(CompletionReport("Fn", "r-1", "Succeeded", "", 9.0))
    other = CompletionReport("Other", "r-1", "Succeeded", "", 6.0)  # per function
    assert any_store.report_completion(other) == (other, True)
    assert any_store.completion_report("Fn", "r-1") == first
    assert any_store.completion_report("Fn", "r-2") is None


def test_gate_requests_join_their_reports(any_store: Store) -> None:
    any_store.note_gate_request("d-1", 0, "Fn", 2, "r-b", 11.0)
    any_store.note_gate_request("d-1", 0, "Fn", 2, "r-a", 10.0)
    any_store.note_gate_request("d-1", 0, "Fn", 2, "r-a", 10.0)  # noted twice: one row
    any_store.note_gate_request("d-1", 2, "Fn", 2, "r-c", 12.0)  # a later gate
    any_store.note_gate_request("d-2", 0, "Fn", 3, "r-d", 12.0)  # another deployment
    ok = CompletionReport("Fn", "r-a", "Succeeded", "", 20.0)
    any_store.report_completion(ok)
    any_store.report_completion(CompletionReport("Other", "r-b", "Failed", "x", 20.0))
    any_store.report_completion(CompletionReport("Fn", "r-z", "Failed", "x", 20.0))
    assert any_store.gate_requests("d-1", 0) == [
        GateRequest("Fn", "r-a", 2, 10.0, ok),
        GateRequest("Fn", "r-b", 2, 11.0, None),  # Other's r-b is not Fn's
    ]
    assert [g.request_id for g in any_store.gate_requests("d-1", 2)] == ["r-c"]
    assert any_store.gate_requests("d-9", 0) == []


def test_request_gate_completion_roundtrips(any_store: Store) -> None:
    d = deployment((RequestGate(3, "reported", 3600.0), RequestGate(2), SetWeight(1.0)))
    any_store.create_deployment(d)
    assert any_store.deployment(d.id).steps == d.steps


def test_rows_stored_before_completion_existed_still_load(any_store: Store) -> None:
    d = deployment((RequestGate(3), SetWeight(1.0)))
    any_store.create_deployment(d)
    old = codec.loads(codec.deployment_to_json(d))
    del old["steps"][0]["completion"]  # the shape written before these fields were added
    del old["steps"][0]["timeout_s"]
    with any_store.tx() as conn:
        conn.execute(
            update(schema.deployments)
            .where(schema.deployments.c.id == d.id)
            .values(body=codec.dumps(old))
        )
    assert any_store.deployment(d.id).steps[0] == RequestGate(3, "response")


def test_an_unknown_completion_in_a_row_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown request gate completion 'later'"):
        codec.step_from_dict({"kind": "request_gate", "count": 3, "completion": "later"})
