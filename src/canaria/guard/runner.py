"""The guard's loop: find deployments, read signals, plan, act, persist — one poll at a time.

``Guard.poll()`` does one round and returns what it decided; ``canaria guard`` calls it
every ``poll_s`` seconds. Per deployment it reads the deployment from CodeDeploy, the
function's new log lines since the last poll (``FilterLogEvents``, windows overlapping by
``lookback_s`` to catch late-ingested lines, deduplicated by event id), feeds the judge
one tick, writes the record and its events, and only then calls AWS if the plan says so.
Log windows follow the timestamps AWS reports (the deployment's create time, then the
newest line seen), never the guard's own clock, so a stand-in running on virtual time is
read the same way.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import assert_never

import orjson

from canaria.analysis.judge import Judge, TickCounts
from canaria.clock import Clock
from canaria.guard.aws import AwsGuardClient, AwsRefused, GuardError, Throttled
from canaria.guard.logsignals import LogParser, StableDurations, tick_counts
from canaria.guard.metricsignals import CROSS_CHECK_SETTLE_S, PERIOD_S, SETTLE_S
from canaria.guard.metricsignals import counts_between as metric_counts
from canaria.guard.metricsignals import queries as metric_queries
from canaria.guard.model import (
    Action,
    ActionStatus,
    GuardEvent,
    GuardRecord,
    Invocation,
    LambdaTarget,
    Mode,
    SetAlarmState,
    Source,
    StopDeployment,
)
from canaria.guard.notify import guard_payload, send
from canaria.guard.plan import GuardPlan, plan
from canaria.guard.records import GuardRecords
from canaria.models import JudgeSettings

__all__ = ["Guard", "GuardOptions"]

log = logging.getLogger("canaria.guard")

# the Lambda target (its weight) is read again every this many polls of a deployment
TARGET_REFRESH_POLLS = 15


@dataclass(frozen=True)
class GuardOptions:
    stack: str | None = None
    application: str | None = None
    groups: tuple[str, ...] = ()  # empty: every group of the application
    mode: Mode = Mode.DRY_RUN
    alarm_name: str | None = None
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    # per function name: settings from the template's ``Metadata: canaria: judge``
    judge_for: Callable[[str], JudgeSettings | None] | None = None
    poll_s: float = 2.0
    lookback_s: float = 30.0
    webhooks: tuple[str, ...] = ()  # URLs told of each decision (CodeDeploy trigger shape)
    source: Source = Source.LOGS
    # on the logs source, compare each settled minute's invocations per version with
    # AWS/Lambda's (GetMetricData, one call a minute): say when the logs miss lines
    cross_check: bool = True

    def __post_init__(self) -> None:
        if (self.stack is None) == (self.application is None):
            raise GuardError("name exactly one of --stack or --application")
        if self.groups and self.application is None:
            raise GuardError("--group needs --application")
        if self.mode is Mode.ALARM and not self.alarm_name:
            raise GuardError("--act alarm needs --alarm-name (the alarm the group watches)")
        if self.poll_s <= 0 or self.lookback_s < 0:
            raise GuardError("--poll must be positive and the lookback non-negative")
        for url in self.webhooks:
            if not url.startswith(("http://", "https://")):
                raise GuardError(f"--webhook {url!r}: an http:// or https:// URL is needed")


@dataclass
class _Watch:
    """What the guard holds in memory per deployment between polls (rebuilt from the
    deployment's create time after a restart; the judge's state is in the store)."""

    target: LambdaTarget
    cursor_ms: int
    floor_ms: int = -1  # lines at or before this were fed before a restart
    parser: LogParser = field(default_factory=LogParser)
    stable: StableDurations = field(default_factory=StableDurations)
    # cross-check: invocations read from the logs per (minute start, version), and the
    # first minute not compared yet (the first whole minute the logs were read over)
    minutes: collections.Counter[tuple[int, str]] = field(default_factory=collections.Counter)
    checked_to: int = 0
    cross_check: bool = True
    polls: int = 0

    def __post_init__(self) -> None:
        start = -(-self.cursor_ms // 1000)  # seconds, rounded up
        self.checked_to = start + (-start % PERIOD_S)


class Guard:
    def __init__(
        self,
        client: AwsGuardClient,
        records: GuardRecords,
        options: GuardOptions,
        clock: Clock,
        on_event: Callable[[GuardEvent], None] | None = None,
    ) -> None:
        self.client = client
        self.records = records
        self.options = options
        self.clock = clock
        self.on_event = on_event or (lambda e: None)
        self._groups: list[tuple[str, str]] | None = None
        self._watching: dict[str, _Watch] = {}
        self.throttled_polls = 0
        self._throttled_streak = 0
        self._resumed = False

    def groups(self) -> list[tuple[str, str]]:
        if self._groups is None:
            o = self.options
            if o.stack is not None:
                self._groups = self.client.stack_groups(o.stack)
            else:
                assert o.application is not None
                found = self.client.application_groups(o.application)
                if o.groups:
                    missing = sorted(set(o.groups) - {g for _, g in found})
                    if missing:
                        raise GuardError(
                            f"application {o.application!r} has no deployment group "
                            f"{', '.join(missing)} (it has: {', '.join(g for _, g in found)})"
                        )
                    found = [(a, g) for a, g in found if g in o.groups]
                self._groups = found
        return self._groups

    def poll(self) -> list[GuardPlan]:
        """One round over every active deployment (and those that just finished). AWS
        throttling ends the round early: the evidence so far is kept, the next round
        continues."""
        plans: list[GuardPlan] = []
        try:
            ids: list[str] = []
            groups = self.groups()
            for app, group in groups:
                ids.extend(self.client.active_deployments(app, group))
            if not self._resumed:
                # a deployment watched before a restart that ended meanwhile: read its end
                ids += [
                    r.deployment_id
                    for r in self.records.recent(100)
                    if r.status.active and (r.application, r.group) in groups
                ]
                self._resumed = True
            for did in dict.fromkeys([*ids, *self._watching]):
                try:
                    p = self._guard(did)
                except AwsRefused as exc:  # this deployment only; the others go on
                    self._emit(GuardEvent(did, self.clock.now(), "aws", f"{exc.message}; skipped"))
                    continue
                if p is not None:
                    plans.append(p)
        except Throttled as exc:
            self.throttled_polls += 1
            self._throttled_streak += 1
            self._emit(
                GuardEvent(
                    "-",
                    self.clock.now(),
                    "aws",
                    f"{exc.message}; evidence kept, next poll in {self.next_delay():.0f} s",
                )
            )
        else:
            self._throttled_streak = 0
        return plans

    def next_delay(self) -> float:
        """Seconds until the next poll: ``poll_s``, doubled for each poll in a row that
        AWS throttled (at most 32×)."""
        return float(self.options.poll_s * 2 ** min(self._throttled_streak, 5))

    def _emit(self, event: GuardEvent) -> None:
        log.info("%s %s: %s", event.deployment_id, event.kind, event.message)
        self.on_event(event)

    def _judge(self, function: str) -> Judge:
        settings = None
        if self.options.judge_for is not None:
            settings = self.options.judge_for(function)
        return Judge(settings or self.options.judge)

    def _guard(self, deployment_id: str) -> GuardPlan | None:
        previous = self.records.get(deployment_id)
        watch = self._watching.get(deployment_id)
        known = watch.target if watch else _target_of(previous)
        if watch is not None:
            watch.polls += 1
            if watch.polls % TARGET_REFRESH_POLLS == 0:
                known = None  # read the target again: the weight CodeDeploy has moved to
        observed = self.client.observe(deployment_id, known)
        if watch is not None and known is None:  # refreshed: only the weight may change
            if observed.target is not None:
                watch.target = replace(watch.target, weight=observed.target.weight)
            observed = replace(observed, target=watch.target)
        if observed.target is None:
            return None
        if watch is None:
            resumed = previous.log_cursor_ms if previous else 0
            start = max(int(observed.create_time * 1000), resumed)
            watch = self._watching[deployment_id] = _Watch(
                observed.target, start, floor_ms=resumed if resumed else -1
            )
        counts = None
        first_canary: float | None = None
        if observed.status.active and self.options.source is Source.METRICS:
            judge = self._judge(observed.target.function)
            counts = self._metric_counts(watch, observed.target)
        elif observed.status.active:
            t = observed.target
            floor = watch.floor_ms
            invocations = watch.parser.feed(
                e
                for e in self.client.log_events(
                    t.function, max(0, watch.cursor_ms - int(self.options.lookback_s * 1000))
                )
                if e.timestamp_ms > floor
            )
            if invocations:
                newest = max(int(i.time * 1000) for i in invocations)
                watch.cursor_ms = max(watch.cursor_ms, newest)
                watch.parser.forget_before(
                    watch.cursor_ms - int(2 * self.options.lookback_s * 1000)
                )
            stable_now = [i for i in invocations if i.version == t.current_version]
            judge = self._judge(t.function)
            threshold = watch.stable.threshold(
                watch.cursor_ms / 1000.0, judge.settings.slow_tolerance_ms
            )
            counts = tick_counts(invocations, t.target_version, t.current_version, threshold)
            if self.options.cross_check and watch.cross_check:
                self._cross_check(deployment_id, watch, invocations)
            watch.stable.add(stable_now)
            canary_times = [i.time for i in invocations if i.version == t.target_version]
            first_canary = min(canary_times) if canary_times else None
        else:
            judge = self._judge(observed.target.function)
            self._watching.pop(deployment_id, None)
        p = plan(
            previous,
            observed,
            counts,
            judge=judge,
            mode=self.options.mode,
            alarm_name=self.options.alarm_name,
            now=self.clock.now(),
            first_canary_at=first_canary,
        )
        if deployment_id in self._watching:
            p = replace(p, record=replace(p.record, log_cursor_ms=watch.cursor_ms))
        self.records.save(p.record, p.events)
        for e in p.events:
            self._emit(e)
        record = p.record
        for action in p.actions:
            record = self._act(record, action)
            if action.kind == "StopDeployment" or action.state == "ALARM":
                self._notify(record, "DeploymentStop")
        if record.action_status is ActionStatus.WOULD and (
            previous is None or previous.action_status is not ActionStatus.WOULD
        ):
            self._notify(record, "CanariaVerdict")
        return replace(p, record=record)

    def _notify(self, record: GuardRecord, event: str) -> None:
        if not self.options.webhooks:
            return
        problems = send(self.options.webhooks, guard_payload(record, event))
        now = self.clock.now()
        events = [GuardEvent(record.deployment_id, now, "notification", m) for m in problems]
        if events:
            self.records.save(record, events)
            for e in events:
                self._emit(e)

    def _cross_check(self, did: str, watch: _Watch, invocations: list[Invocation]) -> None:
        """Compare the minutes that ended ``CROSS_CHECK_SETTLE_S`` before the newest log
        line with Lambda's own Invocations by ExecutedVersion; say when the metrics count
        more than the logs showed (lines the judge never saw). Fewer is expected: a
        version invoked directly (a PreTraffic hook) is not counted on the alias."""
        t = watch.target
        for i in invocations:
            minute = int(i.time) - int(i.time) % PERIOD_S
            if minute >= watch.checked_to and i.version in (t.current_version, t.target_version):
                watch.minutes[(minute, i.version)] += 1
        end = int(watch.cursor_ms / 1000 - CROSS_CHECK_SETTLE_S)
        end -= end % PERIOD_S
        if end <= watch.checked_to:
            return
        try:
            results = self.client.metric_data(metric_queries(t), watch.checked_to, end)
        except AwsRefused as exc:
            watch.cross_check = False
            message = f"cross-check with AWS/Lambda metrics off: {exc.message}"
            self._emit(GuardEvent(did, self.clock.now(), "signals", message))
            return
        for minute in range(watch.checked_to, end, PERIOD_S):
            c = metric_counts(results, t, minute, minute + PERIOD_S)
            for version, counted in (
                (t.current_version, c.stable_invocations),
                (t.target_version, c.canary_invocations),
            ):
                logged = watch.minutes.pop((minute, version), 0)
                if counted - logged > max(2, 0.05 * counted):
                    stamp = time.strftime("%H:%M", time.gmtime(minute))
                    message = (
                        f"cross-check {stamp} UTC, version {version}: {counted} invocations "
                        f"in AWS/Lambda metrics, {logged} in the logs; the judge misses "
                        "lines (is the log group right? are lines dropped?)"
                    )
                    self._emit(GuardEvent(did, self.clock.now(), "signals", message))
        watch.checked_to = end

    def _metric_counts(self, watch: _Watch, t: LambdaTarget) -> TickCounts | None:
        """The minutes that ended at least ``SETTLE_S`` ago and were not read yet."""
        start = watch.cursor_ms / 1000.0
        start -= start % PERIOD_S
        end = self.clock.now() - SETTLE_S
        end -= end % PERIOD_S
        if end <= start:
            return None
        results = self.client.metric_data(metric_queries(t), start, end)
        watch.cursor_ms = int(end * 1000)
        return metric_counts(results, t, start, end)

    def _act(self, record: GuardRecord, action: Action) -> GuardRecord:
        now = self.clock.now()
        if isinstance(action, SetAlarmState) and action.state == "OK":
            return self._reset_alarm(record, action, now)
        try:
            match action:
                case StopDeployment():
                    answer = self.client.stop_deployment(action.deployment_id, action.auto_rollback)
                case SetAlarmState():
                    answer = self.client.set_alarm_state(
                        action.alarm_name, action.state, action.reason
                    )
                case _:
                    assert_never(action)
        except Throttled as exc:
            # not carried out: the next poll asks again
            record = replace(record, action_status=ActionStatus.NONE, updated_at=now)
            event = GuardEvent(record.deployment_id, now, "action", f"{exc.message}; will retry")
        except AwsRefused as exc:
            record = replace(
                record, action_status=ActionStatus.REFUSED, answer=exc.message, updated_at=now
            )
            event = GuardEvent(record.deployment_id, now, "action", f"AWS refused: {exc.message}")
        else:
            text = orjson.dumps(answer, default=str).decode()
            record = replace(record, action_status=ActionStatus.DONE, answer=text, updated_at=now)
            event = GuardEvent(
                record.deployment_id, now, "action", f"{action.describe()} answered {text}"
            )
        self.records.save(record, [event])
        self._emit(event)
        return record

    def _reset_alarm(self, record: GuardRecord, action: SetAlarmState, now: float) -> GuardRecord:
        """Set the judge's alarm back to OK after the deployment finished; a failure is
        reported (the operator must reset it) but changes nothing else."""
        try:
            self.client.set_alarm_state(action.alarm_name, action.state, action.reason)
            message = f"{action.describe()} answered"
        except GuardError as exc:
            message = f"could not reset the alarm ({exc.message}); set it to OK by hand"
        event = GuardEvent(record.deployment_id, now, "action", message)
        self.records.save(record, [event])
        self._emit(event)
        return record


def _target_of(record: GuardRecord | None) -> LambdaTarget | None:
    if record is None:
        return None
    return LambdaTarget(
        record.function, record.alias, record.current_version, record.target_version
    )
