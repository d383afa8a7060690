"""The guard against moto's server where AWS misbehaves or is laid out differently:
throttled reads and actions, a role without GetMetricData, logs the metrics contradict,
deployment groups in a nested stack."""

from __future__ import annotations

import time
from typing import Any

import pytest

from canaria.clock import ManualClock
from canaria.guard import (
    ActionStatus,
    AwsGuardClient,
    Guard,
    GuardEvent,
    GuardOptions,
    GuardRecords,
    Mode,
)
from canaria.store import Store
from tests.functional.guard.standins import NESTED, NestedStacks, ThrottlingProxy
from tests.functional.guard.test_guard_moto import (
    FUNCTION,
    Lambda,
    client,
    make_deployment,
    run_traffic,
    session,
    status_of,
)


def test_throttled_log_reads_keep_the_evidence_and_lose_no_line(moto: str, tmp_path: Any) -> None:
    dep = make_deployment(moto)
    fn = Lambda(moto)
    proxy = ThrottlingProxy(moto)
    store = Store.open(str(tmp_path / "state"))
    events: list[GuardEvent] = []
    guard = Guard(
        AwsGuardClient(session=session(), endpoint_url=proxy.url, max_attempts=2),
        GuardRecords(store),
        GuardOptions(application="my-app", mode=Mode.STOP, lookback_s=3600),
        ManualClock(0.0),
        on_event=events.append,
    )
    try:
        for _ in range(5):
            fn.serve("1")
        guard.poll()
        before = guard.records.get(dep)
        assert before is not None and before.stable_invocations == 5

        proxy.throttle = {"FilterLogEvents"}
        for _ in range(4):
            fn.serve("1")
        guard.poll()
        guard.poll()
        kept = guard.records.get(dep)
        assert kept is not None and kept.stable_invocations == 5  # evidence kept, not reset
        assert kept.judge == before.judge
        assert proxy.throttled >= 4  # botocore retried each call before giving up
        assert guard.throttled_polls == 2 and guard.next_delay() == 4 * guard.options.poll_s
        assert "throttled" in events[-1].message and "evidence kept" in events[-1].message

        proxy.throttle = set()
        guard.poll()
        after = guard.records.get(dep)
        assert after is not None and after.stable_invocations == 9  # none lost, none twice
        assert guard.next_delay() == guard.options.poll_s
    finally:
        proxy.close()
        store.close()


def test_the_logs_are_cross_checked_with_lambda_s_metrics(moto: str, tmp_path: Any) -> None:
    """Each settled minute's invocations per version from the logs are compared with
    AWS/Lambda's by ExecutedVersion: a minute where the metrics count more canary requests
    than the logs showed is reported (the judge did not see them all)."""
    dep = make_deployment(moto)
    created = (
        client(moto, "codedeploy")
        .get_deployment(deploymentId=dep)["deploymentInfo"]["createTime"]
        .timestamp()
    )
    first = int(created) - int(created) % 60 + 60  # the first whole minute of the deployment
    fn = Lambda(moto)
    cw = client(moto, "cloudwatch")
    n = 0

    def lines(version: str, at: float, count: int) -> None:
        nonlocal n
        events = []
        for k in range(count):
            n += 1
            events.append(
                {
                    "timestamp": int((at + k) * 1000),
                    "message": f"REPORT RequestId: 00000000-0000-4000-8000-{n:012d}\t"
                    "Duration: 2.00 ms\tBilled Duration: 2 ms",
                }
            )
        fn.logs.put_log_events(
            logGroupName=fn.group, logStreamName=fn.streams[version], logEvents=events
        )

    def metric(version: str, minute: int, value: int) -> None:
        cw.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [
                        {"Name": "FunctionName", "Value": FUNCTION},
                        {"Name": "Resource", "Value": f"{FUNCTION}:live"},
                        {"Name": "ExecutedVersion", "Value": version},
                    ],
                    "Timestamp": minute + 30,
                    "Value": value,
                    "Unit": "Count",
                }
            ],
        )

    for minute, canary_in_metrics in ((first, 2), (first + 60, 8)):
        lines("1", minute + 1, 10)
        lines("2", minute + 20, 2)
        metric("1", minute, 10)
        metric("2", minute, canary_in_metrics)  # the second minute: 6 lines never logged
    lines("1", first + 120 + 181, 1)  # the newest line: both minutes have settled
    proxy = ThrottlingProxy(moto)

    def guard_on(endpoint: str, state: str, events: list[GuardEvent]) -> Guard:
        return Guard(
            AwsGuardClient(session=session(), endpoint_url=endpoint, max_attempts=1),
            GuardRecords(Store.open(str(tmp_path / state))),
            GuardOptions(application="my-app", mode=Mode.DRY_RUN, lookback_s=3600),
            ManualClock(0.0),
            on_event=events.append,
        )

    events: list[GuardEvent] = []
    guard = guard_on(moto, "state", events)
    guard.poll()
    warned = [e.message for e in events if e.kind == "signals"]
    stamp = time.strftime("%H:%M", time.gmtime(first + 60))
    assert warned == [
        f"cross-check {stamp} UTC, version 2: 8 invocations in AWS/Lambda metrics, 2 in the "
        "logs; the judge misses lines (is the log group right? are lines dropped?)"
    ]
    guard.poll()  # nothing newer has settled: not asked again
    assert guard.client.calls["cloudwatch:get_metric_data"] == 1
    guard.records.store.close()

    # A role without cloudwatch:GetMetricData: the cross-check says it is off, once; the
    # judge goes on with the logs.
    proxy.deny = {"GetMetricData"}
    denied: list[GuardEvent] = []
    guard = guard_on(proxy.url, "denied", denied)
    try:
        guard.poll()
        lines("1", first + 120 + 240, 1)  # a later minute settles: not asked again
        guard.poll()
        signals = [e.message for e in denied if e.kind == "signals"]
        assert len(signals) == 1 and signals[0].startswith("cross-check with AWS/Lambda")
        assert "AccessDeniedException" in signals[0], signals
        assert guard.client.calls["cloudwatch:get_metric_data"] == 1
        record = guard.records.get(dep)
        assert record is not None and record.stable_invocations == 22
    finally:
        proxy.close()
        guard.records.store.close()


def test_a_throttled_action_is_retried_once_then_never_again(moto: str, tmp_path: Any) -> None:
    """SetAlarmState throttled: the guard records that it did not act and asks again on
    the next poll; once AWS answered, never again."""
    dep = make_deployment(moto)
    cw = client(moto, "cloudwatch")
    cw.put_metric_alarm(
        AlarmName="canaria-judge",
        Namespace="canaria",
        MetricName="JudgeVerdict",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    fn = Lambda(moto)
    proxy = ThrottlingProxy(moto)
    proxy.throttle = {"SetAlarmState"}
    store = Store.open(str(tmp_path / "state"))
    guard = Guard(
        AwsGuardClient(session=session(), endpoint_url=proxy.url, max_attempts=1),
        GuardRecords(store),
        GuardOptions(
            application="my-app", mode=Mode.ALARM, alarm_name="canaria-judge", lookback_s=3600
        ),
        ManualClock(0.0),
    )
    try:
        run_traffic(fn, guard, lambda: guard.client.calls["cloudwatch:set_alarm_state"] == 1)
        record = guard.records.get(dep)
        assert record is not None and record.verdict == "ROLLBACK"
        assert record.action_status is ActionStatus.NONE  # not carried out
        assert proxy.throttled == 2  # one call: botocore's attempt and its one retry
        messages = [e.message for e in guard.records.events(dep)]
        assert "throttled" in messages[-1] and messages[-1].endswith("will retry")
        state = cw.describe_alarms(AlarmNames=["canaria-judge"])["MetricAlarms"][0]
        assert state["StateValue"] != "ALARM"

        proxy.throttle = set()
        guard.poll()
        record = guard.records.get(dep)
        assert record is not None and record.action_status is ActionStatus.DONE
        for _ in range(3):
            fn.serve("2")
            guard.poll()
        assert guard.client.calls["cloudwatch:set_alarm_state"] == 2  # throttled, then done
        state = cw.describe_alarms(AlarmNames=["canaria-judge"])["MetricAlarms"][0]
        assert state["StateValue"] == "ALARM"
    finally:
        proxy.close()
        store.close()


def test_a_stack_s_nested_stacks_are_guarded(
    moto: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--stack parent-app`: the deployment groups of the stack nested in it are found,
    and their deployment (on moto) is judged; the endpoints come from the environment,
    per service, as a user would set them."""
    dep = make_deployment(moto)
    fn = Lambda(moto)
    cfn = NestedStacks(FUNCTION)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", cfn.url)
    store = Store.open(str(tmp_path / "state"))
    guard = Guard(
        AwsGuardClient(session=session()),
        GuardRecords(store),
        GuardOptions(stack="parent-app", mode=Mode.DRY_RUN, lookback_s=3600),
        ManualClock(0.0),
    )
    try:
        assert guard.groups() == [("my-app", "HelloGroup")]
        assert cfn.asked == ["parent-app", NESTED]
        run_traffic(fn, guard, lambda: status_of(guard, dep) is ActionStatus.WOULD)
        record = guard.records.get(dep)
        assert record is not None and record.verdict == "ROLLBACK"
        assert (record.application, record.group, record.function) == (
            "my-app",
            "HelloGroup",
            FUNCTION,
        )
    finally:
        cfn.close()
        store.close()
