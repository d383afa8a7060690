"""The store on SQLite and PostgreSQL: the same SQL, the same answers."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from canaria.errors import Conflict, NotFound
from canaria.models import Alias, FunctionConfig, JudgeSettings
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    DeploymentJudge,
    HookExecution,
    HookStatus,
    JudgeProgress,
    ManualGate,
    RequestGate,
    SetWeight,
    State,
    Target,
)
from canaria.store import Store, schema

CONFIG = FunctionConfig("app.handler", "python3.11", "/code", {"A": "1"}, 3.0, 128, None)


def deployment(id: str = "d-AAAAAAAAA", fn: str = "Fn") -> Deployment:
    return Deployment(
        id=id,
        application="app",
        targets=(Target(fn, "live", 1, 2),),
        config_name="Custom",
        steps=(SetWeight(0.1, 60), ManualGate(), RequestGate(3), SetWeight(1.0)),
        alarms=("Err",),
        judge=DeploymentJudge(
            JudgeSettings(alpha=0.05),
            JudgeProgress(states={"Fn": {"errors": [0.5, 1.5]}}, evidence={"errors": 2.0}),
        ),
        created_at=1.0,
        updated_at=1.0,
    )


def test_migrated_schema_matches_the_query_tables(any_store: Store) -> None:
    insp = inspect(any_store.engine)
    for table in schema.metadata.tables.values():
        cols = {c["name"] for c in insp.get_columns(table.name)}
        assert cols == {c.name for c in table.columns}, table.name


def test_publish_numbers_versions_and_skips_unchanged(any_store: Store) -> None:
    v1, new1 = any_store.publish("Fn", "a" * 64, CONFIG, "/art/a", 1.0)
    again, new2 = any_store.publish("Fn", "a" * 64, CONFIG, "/art/a", 2.0)
    v2, new3 = any_store.publish("Fn", "b" * 64, CONFIG, "/art/b", 3.0)
    assert (v1.number, new1, again.number, new2, v2.number, new3) == (1, True, 1, False, 2, True)
    assert any_store.version("Fn", 1).config == CONFIG
    assert [v.number for v in any_store.versions("Fn")] == [1, 2]
    with pytest.raises(NotFound):
        any_store.version("Fn", 9)


def test_publish_of_a_planned_number_is_that_version_or_nothing(any_store: Store) -> None:
    v1, _ = any_store.publish("Fn", "a" * 64, CONFIG, "/art/a", 1.0, number=1)
    same, new = any_store.publish("Fn", "a" * 64, CONFIG, "/art/a", 2.0, number=1)
    assert (v1.number, same, new) == (1, v1, False)  # a release run again
    with pytest.raises(Conflict, match="publishes version 3, but the store's next version is 2"):
        any_store.publish("Fn", "b" * 64, CONFIG, "/art/b", 3.0, number=3)
    with pytest.raises(
        Conflict, match="publishes version 2, but the store's version 1 has this code"
    ):
        any_store.publish("Fn", "a" * 64, CONFIG, "/art/a", 3.0, number=2)
    assert [v.number for v in any_store.versions("Fn")] == [1]
    v2, new = any_store.publish("Fn", "b" * 64, CONFIG, "/art/b", 4.0, number=2)
    assert (v2.number, new) == (2, True)


def test_aliases_roundtrip(any_store: Store) -> None:
    any_store.put_alias(Alias("Fn", "live", 1), 1.0)
    any_store.put_alias(Alias("Fn", "live", 1, 2, 0.25), 2.0)
    assert any_store.alias("Fn", "live") == Alias("Fn", "live", 1, 2, 0.25)
    assert any_store.alias("Fn", "nope") is None


def test_deployment_roundtrip_events_and_lock(any_store: Store) -> None:
    d = any_store.create_deployment(deployment())
    assert d.revision == 1 and any_store.deployment(d.id) == d
    with pytest.raises(Conflict, match="already being deployed"):
        any_store.create_deployment(deployment("d-BBBBBBBBB"))
    done = Deployment(**{**d.__dict__, "state": State.STOPPED, "rolled_back": True})
    ev = DeploymentEvent(d.id, 2.0, "transition", "stopped", {"x": 1})
    any_store.save_deployment(done, aliases=[Alias("Fn", "live", 1)], events=[ev])
    assert any_store.deployment(d.id).state is State.STOPPED
    assert [e.message for e in any_store.events(d.id)] == ["stopped"]
    assert any_store.deployments(active_only=True) == []
    any_store.create_deployment(deployment("d-CCCCCCCCC"))  # the lock was released


def test_hooks_report_once(any_store: Store) -> None:
    d = deployment()
    any_store.create_deployment(d)
    h = HookExecution("e-1", d.id, "BeforeAllowTraffic", "Hook", HookStatus.PENDING, 1.0, 10.0)
    any_store.save_hook(h)
    reported = any_store.report_hook(d.id, "e-1", HookStatus.SUCCEEDED, 2.0)
    assert reported.status is HookStatus.SUCCEEDED and reported.finished_at == 2.0
    with pytest.raises(Conflict, match="already reported"):
        any_store.report_hook(d.id, "e-1", HookStatus.FAILED, 3.0)
    with pytest.raises(NotFound):
        any_store.report_hook("d-OTHER0000", "e-1", HookStatus.FAILED, 3.0)


def test_settings_and_alarm_states(any_store: Store) -> None:
    any_store.put_setting("k", "v1")
    any_store.put_setting("k", "v2")
    assert any_store.get_setting("k") == "v2" and any_store.get_setting("x") is None
    any_store.put_alarm_state("Err", "ALARM", "threshold crossed", 5.0)
    assert any_store.alarm_states() == {"Err": ("ALARM", "threshold crossed", 5.0)}
