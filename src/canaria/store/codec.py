"""JSON encoding of the models the store keeps (frozen dataclasses ↔ plain dicts)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, assert_never

import orjson

from canaria.models import FunctionConfig, JudgeSettings, Undetectable
from canaria.models.deployment import (
    Deployment,
    DeploymentJudge,
    ErrorCode,
    JudgeProgress,
    ManualGate,
    RequestGate,
    SetWeight,
    State,
    Step,
    Target,
)


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def loads(text: str) -> Any:
    return orjson.loads(text)


def step_to_dict(step: Step) -> dict[str, Any]:
    return asdict(step)


def step_from_dict(raw: dict[str, Any]) -> Step:
    kind = raw.get("kind")
    if kind == "set_weight":
        need = raw.get("min_detectable")  # absent in rows written before the requirement
        return SetWeight(
            weight=float(raw["weight"]),
            duration_s=float(raw.get("duration_s", 0)),
            min_detectable=None if need is None else float(need),
        )
    if kind == "manual_gate":
        return ManualGate()
    if kind == "request_gate":
        # rows written before request gates had ``completion`` mean "response"
        completion = raw.get("completion", "response")
        if completion not in ("response", "reported"):
            raise ValueError(f"unknown request gate completion {completion!r}")
        timeout = raw.get("timeout_s")  # absent in rows written before gate timeouts
        return RequestGate(
            count=int(raw["count"]),
            completion=completion,
            timeout_s=None if timeout is None else float(timeout),
        )
    raise ValueError(f"unknown step kind {kind!r}")


def config_to_json(config: FunctionConfig) -> str:
    return dumps(asdict(config))


def config_from_json(text: str) -> FunctionConfig:
    raw = loads(text)
    raw["environment"] = dict(raw.get("environment") or {})
    raw["layers"] = tuple(raw.get("layers") or ())
    return FunctionConfig(**raw)


def judge_to_dict(j: DeploymentJudge) -> dict[str, Any]:
    """Settings and progress in one flat object (the shape rows have always had)."""
    out: dict[str, Any] = asdict(j.settings)
    out["undetectable"] = j.settings.undetectable.value
    p = j.progress
    out.update(state=dict(p.states), since=dict(p.since), evidence=dict(p.evidence))
    if p.threshold is not None:
        out["threshold"] = p.threshold
    out.update(detectable=p.detectable, canary_requests=p.canary_requests)
    return out


def judge_from_dict(raw: dict[str, Any]) -> DeploymentJudge:
    defaults = JudgeSettings()
    settings = JudgeSettings(
        enabled=bool(raw.get("enabled", defaults.enabled)),
        alpha=float(raw.get("alpha", defaults.alpha)),
        early_promotion=bool(raw.get("early_promotion", defaults.early_promotion)),
        delta=float(raw.get("delta", defaults.delta)),
        slow_tolerance_ms=float(raw.get("slow_tolerance_ms", defaults.slow_tolerance_ms)),
        min_detectable=_optional_float(raw.get("min_detectable")),
        max_hold_s=_optional_float(raw.get("max_hold_s")),
        undetectable=Undetectable(raw.get("undetectable", defaults.undetectable.value)),
        rehearsal_scale=float(raw.get("rehearsal_scale", defaults.rehearsal_scale)),
    )
    threshold = raw.get("threshold")
    detectable = raw.get("detectable")
    progress = JudgeProgress(
        states=dict(raw.get("state") or {}),
        since={k: float(v) for k, v in (raw.get("since") or {}).items()},
        evidence={k: float(v) for k, v in (raw.get("evidence") or {}).items()},
        threshold=None if threshold is None else float(threshold),
        detectable=None if detectable is None else float(detectable),
        canary_requests=int(raw.get("canary_requests", 0)),
    )
    return DeploymentJudge(settings, progress)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def deployment_to_json(d: Deployment) -> str:
    body = asdict(d)
    body["judge"] = judge_to_dict(d.judge)
    body["state"] = d.state.value
    body["steps"] = [step_to_dict(s) for s in d.steps]
    del body["revision"]
    return dumps(body)


def deployment_from_json(text: str) -> Deployment:
    raw = loads(text)
    raw["state"] = State(raw["state"])
    raw["targets"] = tuple(Target(**t) for t in raw["targets"])
    raw["steps"] = tuple(step_from_dict(s) for s in raw["steps"])
    raw["alarms"] = tuple(raw["alarms"])
    raw["muted_alarms"] = tuple(raw.get("muted_alarms", ()))
    raw["triggers"] = tuple(raw.get("triggers", ()))
    raw["judge"] = judge_from_dict(raw.get("judge") or {})
    if raw.get("error_code") is not None:
        raw["error_code"] = ErrorCode(raw["error_code"])
    raw.pop("revision", None)  # the row's column is the truth; the store sets it
    return Deployment(**raw)


def step_label(step: Step) -> str:
    match step:
        case SetWeight(weight=w, duration_s=d, min_detectable=need):
            label = f"{w * 100:g}% for {d:g}s" if d else f"{w * 100:g}%"
            return label + (f", until {need * 100:g}% is detectable" if need else "")
        case ManualGate():
            return "manual gate"
        case RequestGate(count=n, completion=completion, timeout_s=timeout):
            label = f"first {n} requests"
            if completion == "reported":
                label += ", completion reported"
            return label + (f", within {timeout:g}s" if timeout is not None else "")
        case _:
            assert_never(step)
