"""``GET /metrics``: Prometheus exposition, parsed with the client library's own parser."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from canaria.analysis.prom import PromMetrics
from tests.unit.dashboard.world import TOKEN, World, serve


def _get(url: str, token: str | None) -> tuple[int, str, str]:
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers["content-type"], resp.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers["content-type"], exc.read().decode()


async def test_metrics_exposition_has_every_family_and_label(tmp_path: Path) -> None:
    world = World(tmp_path)
    try:
        d = await world.settle(await world.controller.start(world.deployment()))
        world.traffic(3, per_second=20, failing_new=0.5)
        await world.settle(d)
        world.signals.evaluate_alarms(world.app.alarms if world.app else {}, world.clock.now())
        world.prom.watch_concurrency(("Hello", 2, "live"), {("Hello", 2, "live"): 1})
        async with serve(world) as base:
            status, _, _ = await asyncio.to_thread(_get, base + "/metrics", None)
            assert status == 401
            status, ctype, text = await asyncio.to_thread(_get, base + "/metrics", TOKEN)
    finally:
        world.close()
    assert status == 200 and ctype.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(text)}
    per_version = ("function", "alias", "version")
    expected = {
        "canaria_invocations": per_version,
        "canaria_errors": per_version,
        "canaria_throttles": per_version,
        "canaria_cold_starts": per_version,
        "canaria_duration_milliseconds": per_version,
        "canaria_concurrent_executions": per_version,
        "canaria_function_concurrent_executions": ("function",),
        "canaria_alias_weight": per_version,
        "canaria_deployment_phase": ("deployment", "phase"),
        "canaria_deployment_weight": ("deployment",),
        "canaria_judge_evidence": ("deployment", "metric"),
        "canaria_judge_threshold": ("deployment",),
        "canaria_alarm_state": ("alarm",),
    }
    for name, labels in expected.items():
        assert name in families, f"{name} missing from /metrics"
        assert families[name].samples, f"{name} has no samples"
        for sample in families[name].samples:
            assert set(labels) <= set(sample.labels), (name, sample)
    assert families["canaria_duration_milliseconds"].type == "histogram"
    assert families["canaria_invocations"].type == "counter"
    for process in ("process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"):
        assert process in families, process

    def value(name: str, sample: str, **labels: str) -> float:
        return next(
            s.value
            for s in families[name].samples
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
        )

    new = {"function": "Hello", "alias": "live", "version": "2"}
    invocations = value("canaria_invocations", "canaria_invocations_total", **new)
    errors = value("canaria_errors", "canaria_errors_total", **new)
    assert invocations == 3 * 2 and errors == 3 * 1  # 10 % of 20/s, half failing
    assert value("canaria_concurrent_executions", "canaria_concurrent_executions", **new) == 1
    assert value("canaria_alias_weight", "canaria_alias_weight", version="2") == 0.1
    assert value("canaria_deployment_phase", "canaria_deployment_phase", deployment=d.id) == 1
    phase = next(s for s in families["canaria_deployment_phase"].samples)
    assert phase.labels["phase"] == "AllowTraffic"
    assert value("canaria_deployment_weight", "canaria_deployment_weight", deployment=d.id) == 0.1
    count = value("canaria_duration_milliseconds", "canaria_duration_milliseconds_count", **new)
    assert count == invocations


def test_concurrency_gauge_reads_the_counts_when_scraped() -> None:
    prom = PromMetrics()
    counts = {("F", 1, None): 2}
    prom.watch_concurrency(("F", 1, None), counts)
    labels = {"function": "F", "alias": "", "version": "1"}
    assert prom.registry.get_sample_value("canaria_concurrent_executions", labels) == 2
    counts[("F", 1, None)] = 1
    assert prom.registry.get_sample_value("canaria_concurrent_executions", labels) == 1
