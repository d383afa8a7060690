"""What the dashboard shows, as one JSON-ready dict per push, bounded in size.

``snapshot`` reads the store, the metrics and the signals; ``lifecycle`` and
``weight_staircase`` are pure functions of a deployment and its records. Every list the
page receives has a fixed upper bound (versions, history rows, timeline events, chart
points), so a page left open for hours receives and holds the same amount of data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

from canaria.analysis import Metrics
from canaria.clock import Clock
from canaria.control.views import (
    alias_view,
    deployment_view,
    event_view,
    hook_view,
    route_view,
    version_view,
)
from canaria.controller.signals import LocalSignals
from canaria.errors import NotFound
from canaria.guard.views import guarded_view
from canaria.models import Application
from canaria.models.deployment import (
    Deployment,
    DeploymentEvent,
    HookExecution,
    HookStatus,
    ManualGate,
    RequestGate,
    SetWeight,
    State,
    Step,
)
from canaria.store import Store
from canaria.store.codec import step_label

MAX_VERSIONS = 12  # newest versions listed per function
MAX_HISTORY = 25  # past deployments listed
MAX_EVENTS = 150  # newest timeline events of the deployment shown
MAX_POINTS = 240  # points per chart series; wider windows are binned
MARGIN_S = 20.0  # seconds of context before a deployment starts and after it ends


class DashboardSource(Protocol):
    """What the page reads; ``canaria.platform.Platform`` is one."""

    @property
    def token(self) -> str: ...
    @property
    def app(self) -> Application | None: ...
    @property
    def clock(self) -> Clock: ...
    @property
    def store(self) -> Store: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def signals(self) -> LocalSignals: ...


@dataclass
class BlastRadius:
    """Failed requests on the new version, remembered once a deployment has completed
    (the in-memory metrics keep one hour; a deployment that ended before this process
    started has no metrics here and reports ``None``)."""

    since: float
    done: dict[str, int | None] = field(default_factory=dict)

    def of(self, metrics: Metrics, d: Deployment, now: float) -> int | None:
        if d.id in self.done:
            return self.done[d.id]
        end = d.completed_at if d.completed_at is not None else now
        if d.completed_at is not None and d.completed_at < self.since:
            value: int | None = None
        else:
            value = sum(
                metrics.bucket_counts(t.function, t.to_version, d.created_at, end + 1).errors
                for t in d.targets
            )
        if d.state.completed:
            if len(self.done) > 10 * MAX_HISTORY:
                self.done.clear()
            self.done[d.id] = value
        return value


def snapshot(p: DashboardSource, blast: BlastRadius, focus_id: str | None = None) -> dict[str, Any]:
    """Everything the page shows. ``focus_id`` picks the deployment shown in detail; by
    default the one in progress, else the most recent."""
    app = p.app
    now = p.clock.now()
    recent = p.store.deployments(limit=MAX_HISTORY)
    focus: Deployment | None = None
    if focus_id:
        focus = next((d for d in recent if d.id == focus_id), None)
        if focus is None:
            try:
                focus = p.store.deployment(focus_id)
            except NotFound:
                focus = None
    if focus is None:
        focus = next((d for d in recent if not d.state.completed), recent[0] if recent else None)
    return {
        "now": now,
        "application": app.template_path if app else None,
        "functions": overview(p, now),
        "alarms": p.signals.alarm_states_view(),
        "history": [history_row(p, blast, d, now) for d in recent],
        "guarded": guarded_view(p.store),
        "focus": focus_view(p, focus, now) if focus else None,
        "pinned": bool(focus_id) and focus is not None and focus.id == focus_id,
    }


def overview(p: DashboardSource, now: float) -> dict[str, Any]:
    app = p.app
    out: dict[str, Any] = {}
    for name, spec in app.functions.items() if app else []:
        versions = [version_view(v) for v in p.store.versions(name)][-MAX_VERSIONS:]
        for v in versions:
            v["age_s"] = max(0.0, now - v["created_at"])
        out[name] = {
            "alias_name": spec.auto_publish_alias,
            "aliases": [alias_view(a) for a in p.store.aliases(name)],
            "versions": versions[::-1],
            "routes": [route_view(r) for r in spec.routes],
        }
    return out


def history_row(
    p: DashboardSource, blast: BlastRadius, d: Deployment, now: float
) -> dict[str, Any]:
    view = deployment_view(d)
    end = d.completed_at if d.completed_at is not None else now
    view["duration_s"] = max(0.0, end - d.created_at)
    view["blast_radius"] = blast.of(p.metrics, d, now)
    return view


def focus_view(p: DashboardSource, d: Deployment, now: float) -> dict[str, Any]:
    events = p.store.events(d.id)
    hooks = p.store.hooks(d.id)
    view = deployment_view(d)
    view["events"] = [event_view(e) for e in events[-MAX_EVENTS:]]
    view["events_total"] = len(events)
    view["hook_executions"] = [hook_view(h) for h in hooks]
    view["lifecycle"] = lifecycle(d, hooks, events, now)
    view["alarm_states"] = {
        a: p.signals.alarm_states_view().get(a, {"state": "INSUFFICIENT_DATA", "reason": ""})
        for a in d.alarms
    }
    end = min(now, (d.completed_at if d.completed_at is not None else now) + MARGIN_S)
    start = d.created_at - MARGIN_S
    bin_s = max(1, math.ceil((end - start) / MAX_POINTS))
    start = max(start, end - bin_s * MAX_POINTS)
    view["window"] = {"start": start, "end": end, "bin_s": bin_s}
    view["series"] = series(p.metrics, d, start, end, bin_s)
    view["weights"] = weight_staircase(d, events, start, end)
    view["evidence_history"] = evidence_points(p.signals, d.id, start, end)
    return view


def series(
    metrics: Metrics, d: Deployment, start: float, end: float, bin_s: int
) -> dict[str, dict[str, list[list[float | None]]]]:
    """Per target function and version: ``[t, requests/s, error rate, throttles/s, p50 ms,
    p99 ms]`` per bin of ``bin_s`` seconds (percentiles exact over each bin)."""
    out: dict[str, dict[str, list[list[float | None]]]] = {}
    a = math.floor(start)
    b = math.floor(end) + 1
    for t in d.targets:
        per: dict[str, list[list[float | None]]] = {}
        for v in sorted({x for x in (t.from_version, t.to_version) if x is not None}):
            rows: list[list[float | None]] = []
            for s in range(a, b, bin_s):
                c = metrics.bucket_counts(t.function, v, s, min(s + bin_s, b))
                rows.append(
                    [
                        float(s),
                        c.invocations / bin_s,
                        c.errors / c.invocations if c.invocations else None,
                        c.throttles / bin_s,
                        c.p50_ms,
                        c.p99_ms,
                    ]
                )
            per[str(v)] = rows
        out[t.function] = per
    return out


def weight_staircase(
    d: Deployment, events: list[DeploymentEvent], start: float, end: float
) -> list[list[float]]:
    """The new version's weight over time as ``[t, weight]`` corners, clipped to the
    window: 0 until the first step, each step's weight from its event, 0 again from a
    rollback, 1 from success."""
    points: list[list[float]] = [[start, 0.0]]
    weight = 0.0

    def move(t: float, w: float) -> None:
        nonlocal weight
        t = min(max(t, start), end)
        points.append([t, weight])
        points.append([t, w])
        weight = w

    for e in events:
        if e.kind == "step" and isinstance(e.data.get("weight"), int | float):
            move(e.time, float(e.data["weight"]))
    if d.state.completed and d.completed_at is not None:
        move(
            d.completed_at, 0.0 if d.rolled_back else 1.0 if d.state is State.SUCCEEDED else weight
        )
    points.append([end, weight])
    return points


def evidence_points(
    signals: LocalSignals, deployment_id: str, start: float, end: float
) -> list[list[Any]]:
    hist = signals.evidence_history.get(deployment_id, ())
    pts = [[t, e] for t, e in hist if start <= t <= end]
    step = max(1, math.ceil(len(pts) / MAX_POINTS))
    thinned = pts[::step]
    if pts and thinned[-1] is not pts[-1]:
        thinned.append(pts[-1])
    return thinned


# ---- the lifecycle timeline ------------------------------------------------------------


def lifecycle(
    d: Deployment, hooks: list[HookExecution], events: list[DeploymentEvent], now: float
) -> list[dict[str, Any]]:
    """One row per lifecycle stage: the PreTraffic hook, each step with its weight, the
    PostTraffic hook and the outcome; each with a status (pending, running, done, failed,
    stopped, skipped), start and end times, and a detail line."""
    rows: list[dict[str, Any]] = []
    by_phase = {h.phase: h for h in hooks}
    step_starts: dict[int, float] = {}
    step_ends: dict[int, float] = {}  # the first transition after a step began
    current: int | None = None
    for e in events:
        if e.kind == "step" and isinstance(e.data.get("index"), int):
            current = int(e.data["index"])
            step_starts.setdefault(current, e.time)
        elif e.kind == "transition" and current is not None:
            step_ends.setdefault(current, e.time)
            current = None
    failed_here = d.state in (State.FAILED, State.STOPPED)

    rows.append(
        _hook_row("BeforeAllowTraffic", d.pre_traffic_hook, by_phase.get("BeforeAllowTraffic"), now)
    )
    weight = 0.0
    for i, step in enumerate(d.steps):
        weight = _step_weight(step, weight)
        started = step_starts.get(i)
        ended = step_starts.get(i + 1, step_ends.get(i))
        if i < d.step_index or (d.state is State.SUCCEEDED and not d.rolled_back):
            status = "done"
        elif i == d.step_index and d.state is State.ALLOW_TRAFFIC:
            status = "running"
        elif i == d.step_index and failed_here:
            status = "stopped"
        elif i == d.step_index:
            status = "done"
        elif d.state.completed:
            status = "skipped"
        else:
            status = "pending"
        rows.append(
            {
                "stage": f"step {i + 1}",
                "label": step_label(step),
                "weight": weight,
                "status": status,
                "started_at": started,
                "ended_at": ended if status != "running" else None,
                "detail": _step_detail(step, weight),
            }
        )
    rows.append(
        _hook_row("AfterAllowTraffic", d.post_traffic_hook, by_phase.get("AfterAllowTraffic"), now)
    )
    rows.append(_outcome_row(d))
    return rows


def _step_weight(step: Step, previous: float) -> float:
    match step:
        case SetWeight(weight=w):
            return w
        case ManualGate() | RequestGate():
            return previous


def _step_detail(step: Step, weight: float) -> str:
    match step:
        case SetWeight(weight=w, duration_s=s):
            pct = f"{w * 100:g}%"
            return f"{pct} of traffic on the new version" + (f", hold {s:g} s" if s else "")
        case ManualGate():
            return f"hold {weight * 100:g}% until an operator promotes"
        case RequestGate(count=n, completion=c, timeout_s=timeout):
            until = "report Succeeded" if c == "reported" else "succeed"
            limit = f" (fail after {timeout:g} s)" if timeout is not None else ""
            return f"send the next {n} requests to the new version, wait until all {until}{limit}"


def _hook_row(
    phase: str, function: str | None, h: HookExecution | None, now: float
) -> dict[str, Any]:
    if function is None:
        return {
            "stage": phase,
            "label": "no hook",
            "status": "skipped",
            "started_at": None,
            "ended_at": None,
            "detail": "",
        }
    if h is None:
        return {
            "stage": phase,
            "label": f"hook {function}",
            "status": "pending",
            "started_at": None,
            "ended_at": None,
            "detail": "not started",
        }
    match h.status:
        case HookStatus.SUCCEEDED:
            status = "done"
        case HookStatus.FAILED | HookStatus.UNKNOWN:
            status = "failed"
        case HookStatus.PENDING | HookStatus.IN_PROGRESS:
            status = "running"
    end = h.finished_at
    took = (end if end is not None else now) - h.started_at
    detail = f"{h.status.value} in {took:.1f} s" if end is not None else f"running {took:.0f} s"
    if h.message:
        detail += f": {h.message}"
    return {
        "stage": phase,
        "label": f"hook {function}",
        "status": status,
        "started_at": h.started_at,
        "ended_at": end,
        "detail": detail,
    }


def _outcome_row(d: Deployment) -> dict[str, Any]:
    if not d.state.completed:
        return {
            "stage": "outcome",
            "label": "in progress",
            "status": "pending",
            "started_at": None,
            "ended_at": None,
            "detail": "",
        }
    label = d.state.value + (" (rolled back)" if d.rolled_back else "")
    why = ""
    if d.stopped_by or d.error_message:
        who = d.stopped_by or d.error_code or ""
        why = f"stopped by {who}" + (f" — {d.error_message}" if d.error_message else "")
    return {
        "stage": "outcome",
        "label": label,
        "status": "done" if d.state is State.SUCCEEDED and not d.rolled_back else "failed",
        "started_at": None,
        "ended_at": d.completed_at,
        "detail": why,
    }


__all__ = [
    "BlastRadius",
    "DashboardSource",
    "evidence_points",
    "focus_view",
    "history_row",
    "lifecycle",
    "overview",
    "series",
    "snapshot",
    "weight_staircase",
]
