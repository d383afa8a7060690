"""Per-version signals from a Lambda function's CloudWatch Logs, within seconds.

Lambda writes each execution environment's log to its own stream, named
``YYYY/MM/DD/[VERSION]<environment id>``, so the version of every line is in its stream's
name, and an environment serves one request at a time, so a stream reads as a sequence of
requests: the request's own lines, then ``END`` and ``REPORT``. The guard asks
``FilterLogEvents`` for only the lines it needs (``FILTER_PATTERN``) and reads:

- one invocation per ``REPORT`` line, its duration, and a cold start when it carries
  ``Init Duration``;
- a timeout when the REPORT says ``Status: timeout`` or a ``Task timed out`` line came
  before it in the stream;
- an error when the REPORT says ``Status: error``, or the stream showed since its previous
  REPORT an unhandled error as the runtimes print it: Python's ``[ERROR] Type: message``
  (not the ``[ERROR]<TAB>`` of ``logger.error``), Node's ``ERROR<TAB>Invoke Error``;
- in the JSON log format, ``platform.report`` records (``status`` other than ``success``
  is an error, ``timeout`` a timeout) and ERROR records carrying ``errorType`` and
  ``stackTrace`` (an unhandled error).

Throttled requests never run, so logs cannot see throttles; the judge's ``faults`` metric
counts timeouts only on this source.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from canaria.analysis.judge import TickCounts
from canaria.guard.model import Invocation

__all__ = [
    "FILTER_PATTERN",
    "LogEvent",
    "LogParser",
    "StableDurations",
    "tick_counts",
    "version_of_stream",
]

# Unstructured filter syntax: an event matching any ``?term`` is returned.
FILTER_PATTERN = '?REPORT ?ERROR ?"Task timed out" ?"platform.report"'

_STREAM_VERSION = re.compile(r"\[(\$LATEST|\d+)\]")
_DURATION = re.compile(r"\bDuration: ([0-9.]+) ms")
_REQUEST_ID = re.compile(r"RequestId: ([0-9A-Za-z-]+)")
_STATUS = re.compile(r"\bStatus: (\w+)")


def version_of_stream(stream: str) -> str | None:
    """``2024/05/01/[7]0a1b…`` → ``"7"``; None when the name carries no version."""
    m = _STREAM_VERSION.search(stream)
    return m.group(1) if m else None


@dataclass(frozen=True)
class LogEvent:
    """One event as FilterLogEvents returns it."""

    event_id: str
    stream: str
    timestamp_ms: int
    message: str

    @classmethod
    def from_aws(cls, raw: Mapping[str, Any]) -> LogEvent:
        return cls(
            event_id=str(raw.get("eventId", "")),
            stream=str(raw.get("logStreamName", "")),
            timestamp_ms=int(raw.get("timestamp", 0)),
            message=str(raw.get("message", "")),
        )


@dataclass
class _Pending:
    error: bool = False
    timeout: bool = False


@dataclass
class LogParser:
    """Turns log events into invocations. Stateful across polls (a request's error line
    and its REPORT may come in different pages), and deduplicating by event id, so
    overlapping query windows are harmless."""

    _pending: dict[str, _Pending] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)  # event id -> timestamp (ms)

    def feed(self, events: Iterable[LogEvent]) -> list[Invocation]:
        fresh = [e for e in events if e.event_id not in self._seen]
        for e in fresh:
            self._seen[e.event_id] = e.timestamp_ms
        fresh.sort(key=lambda e: e.timestamp_ms)  # stable: same-ms lines keep their order
        out: list[Invocation] = []
        for e in fresh:
            version = version_of_stream(e.stream)
            if version is None:
                continue
            inv = self._line(e, version)
            if inv is not None:
                out.append(inv)
        return out

    def forget_before(self, timestamp_ms: int) -> None:
        """Drop remembered event ids older than ``timestamp_ms`` (bounded memory)."""
        self._seen = {k: t for k, t in self._seen.items() if t >= timestamp_ms}

    def _line(self, e: LogEvent, version: str) -> Invocation | None:
        text = e.message.strip()
        pending = self._pending.setdefault(e.stream, _Pending())
        if text.startswith("{"):
            return self._json_line(e, version, text, pending)
        if text.startswith("REPORT RequestId:"):
            status = _STATUS.search(text)
            st = status.group(1) if status else None
            duration = _DURATION.search(text)
            rid = _REQUEST_ID.search(text)
            timeout = pending.timeout or st == "timeout"
            inv = Invocation(
                version=version,
                request_id=rid.group(1) if rid else "",
                time=e.timestamp_ms / 1000.0,
                duration_ms=float(duration.group(1)) if duration else 0.0,
                error=pending.error or timeout or st in ("error", "failure"),
                timeout=timeout,
                cold="Init Duration:" in text,
            )
            self._pending[e.stream] = _Pending()
            return inv
        if "Task timed out after" in text:
            pending.timeout = True
        elif (text.startswith("[ERROR] ") and not text.startswith("[ERROR]\t")) or (
            "\tERROR\tInvoke Error" in text
        ):
            pending.error = True
        return None

    def _json_line(
        self, e: LogEvent, version: str, text: str, pending: _Pending
    ) -> Invocation | None:
        try:
            record = orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(record, dict):
            return None
        if record.get("type") == "platform.report":
            body = record.get("record")
            body = body if isinstance(body, dict) else {}
            metrics = body.get("metrics")
            metrics = metrics if isinstance(metrics, dict) else {}
            st = body.get("status", "success")
            timeout = pending.timeout or st == "timeout"
            inv = Invocation(
                version=version,
                request_id=str(body.get("requestId", "")),
                time=e.timestamp_ms / 1000.0,
                duration_ms=float(metrics.get("durationMs", 0.0) or 0.0),
                error=pending.error or st != "success",
                timeout=timeout,
                cold="initDurationMs" in metrics,
            )
            self._pending[e.stream] = _Pending()
            return inv
        if record.get("level") == "ERROR" and "errorType" in record and "stackTrace" in record:
            pending.error = True
        return None


@dataclass
class StableDurations:
    """The stable version's warm durations over a trailing window, for "slow"."""

    window_s: float = 300.0
    min_samples: int = 100
    _samples: list[tuple[float, float]] = field(default_factory=list)

    def add(self, invocations: Iterable[Invocation]) -> None:
        self._samples.extend((i.time, i.duration_ms) for i in invocations if not i.cold)
        self._samples.sort()

    def threshold(self, now: float, tolerance_ms: float) -> float | None:
        """p99 + tolerance over ``[now − window, now)``; None with too few samples."""
        self._samples = [s for s in self._samples if s[0] >= now - self.window_s]
        durations = sorted(d for t, d in self._samples if t < now)
        if len(durations) < self.min_samples:
            return None
        rank = max(0, round(0.99 * len(durations)) - 1)
        return durations[rank] + tolerance_ms


def tick_counts(
    invocations: Sequence[Invocation],
    canary_version: str,
    stable_version: str,
    slow_threshold_ms: float | None,
) -> TickCounts:
    """The judge's counts for one tick from the invocations read in it."""
    canary = [i for i in invocations if i.version == canary_version]
    stable = [i for i in invocations if i.version == stable_version]

    def slow(xs: Sequence[Invocation]) -> int:
        if slow_threshold_ms is None:
            return 0
        return sum(
            1 for i in xs if not i.cold and not i.error and i.duration_ms > slow_threshold_ms
        )

    return TickCounts(
        canary_invocations=len(canary),
        stable_invocations=len(stable),
        canary_errors=sum(i.error for i in canary),
        stable_errors=sum(i.error for i in stable),
        canary_faults=sum(i.timeout for i in canary),
        stable_faults=sum(i.timeout for i in stable),
        canary_slow=slow(canary),
        stable_slow=slow(stable),
    )
