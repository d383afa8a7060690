"""Reading per-version invocations from Lambda's log lines as AWS writes them."""

from __future__ import annotations

from canaria.guard.logsignals import (
    LogEvent,
    LogParser,
    StableDurations,
    tick_counts,
    version_of_stream,
)
from canaria.guard.model import Invocation

S5 = "2026/11/30/[5]0a1b2c3d4e5f"
S6 = "2026/11/30/[6]ffeeddccbbaa"
REPORT = (
    "REPORT RequestId: {rid}\tDuration: {d} ms\tBilled Duration: 13 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 50 MB"
)


def ev(n: int, stream: str, ms: int, message: str) -> LogEvent:
    return LogEvent(f"e{n}", stream, ms, message)


def test_version_is_read_from_the_stream_name() -> None:
    assert version_of_stream(S5) == "5"
    assert version_of_stream("2026/11/30/[$LATEST]abc") == "$LATEST"
    assert version_of_stream("no-version-here") is None


def test_report_lines_become_invocations_and_errors_attach_to_their_request() -> None:
    parser = LogParser()
    out = parser.feed(
        [
            ev(1, S5, 1000, REPORT.format(rid="a", d="12.50")),
            ev(2, S6, 1001, "[ERROR] KeyError: 'id'\nTraceback (most recent call last):"),
            ev(3, S6, 1002, REPORT.format(rid="b", d="3.00") + "\tInit Duration: 120.00 ms"),
            ev(4, S6, 1003, "[ERROR]\t2026-11-30T00:00:01.003Z\tc\tlogged, not raised"),
            ev(5, S6, 1004, REPORT.format(rid="c", d="4.00")),
        ]
    )
    assert [(i.version, i.request_id, i.error, i.cold) for i in out] == [
        ("5", "a", False, False),
        ("6", "b", True, True),
        ("6", "c", False, False),
    ]
    assert out[0].duration_ms == 12.5


def test_an_error_line_and_its_report_may_come_in_different_polls_and_overlap() -> None:
    parser = LogParser()
    first = [ev(1, S6, 1000, "2026-11-30T00:00:01.000Z\tx\tERROR\tInvoke Error \t{}")]
    assert parser.feed(first) == []
    second = [*first, ev(2, S6, 1001, REPORT.format(rid="x", d="1.00"))]
    out = parser.feed(second)  # the overlapping window repeats event e1: not counted twice
    assert len(out) == 1 and out[0].error


def test_timeouts_from_the_report_status_or_the_task_timed_out_line() -> None:
    parser = LogParser()
    out = parser.feed(
        [
            ev(1, S6, 1000, "2026-11-30T00:00:04.000Z t1 Task timed out after 3.00 seconds"),
            ev(2, S6, 1001, REPORT.format(rid="t1", d="3000.00")),
            ev(3, S5, 1002, REPORT.format(rid="t2", d="3000.00") + "\tStatus: timeout"),
        ]
    )
    assert [(i.error, i.timeout) for i in out] == [(True, True), (True, True)]


def test_json_log_format_platform_report() -> None:
    parser = LogParser()
    out = parser.feed(
        [
            ev(
                1,
                S6,
                1000,
                '{"type":"platform.report","record":{"requestId":"j1",'
                '"metrics":{"durationMs":7.5},"status":"success"}}',
            ),
            ev(
                2,
                S6,
                1001,
                '{"level":"ERROR","errorType":"ValueError","errorMessage":"x",'
                '"stackTrace":[],"requestId":"j2"}',
            ),
            ev(
                3,
                S6,
                1002,
                '{"type":"platform.report","record":{"requestId":"j2",'
                '"metrics":{"durationMs":2.0,"initDurationMs":100},"status":"error"}}',
            ),
        ]
    )
    assert [(i.request_id, i.error, i.cold, i.duration_ms) for i in out] == [
        ("j1", False, False, 7.5),
        ("j2", True, True, 2.0),
    ]


def inv(version: str, t: float, d: float, error: bool = False, cold: bool = False) -> Invocation:
    return Invocation(version, "r", t, d, error, False, cold)


def test_tick_counts_split_by_version_and_count_slow_only_with_a_threshold() -> None:
    invocations = [inv("5", 1, 10), inv("5", 1, 50), inv("6", 1, 60, error=True), inv("6", 1, 70)]
    c = tick_counts(invocations, "6", "5", slow_threshold_ms=40.0)
    assert (c.canary_invocations, c.stable_invocations) == (2, 2)
    assert (c.canary_errors, c.stable_errors) == (1, 0)
    assert (c.canary_slow, c.stable_slow) == (1, 1)  # an error is not also "slow"
    assert tick_counts(invocations, "6", "5", None).canary_slow == 0


def test_stable_p99_needs_enough_warm_samples_in_the_window() -> None:
    durations = StableDurations(window_s=60.0, min_samples=100)
    durations.add([inv("5", 10.0, float(d)) for d in range(99)])
    durations.add([inv("5", 10.0, 1000.0, cold=True)])  # a cold start is left out
    assert durations.threshold(20.0, 1.0) is None
    durations.add([inv("5", 11.0, 99.0)])
    assert durations.threshold(20.0, 1.0) == 99.0  # p99 of 0..99 is 98, + 1 ms tolerance
    assert durations.threshold(200.0, 1.0) is None  # everything left the window


def test_a_traced_cold_report_line_reads_its_own_duration() -> None:
    """The REPORT line of a traced cold start, fields as Lambda prints them (tab-separated,
    Init Duration and the X-Ray fields after the memory): the duration is the handler's,
    not the billed or the init one."""
    line = (
        "REPORT RequestId: 8fc6f963-411b-58b5-8483-a32130c0f45d\tDuration: 201.67 ms\t"
        "Billed Duration: 202 ms\tMemory Size: 2048 MB\tMax Memory Used: 81 MB\t"
        "Init Duration: 480.25 ms\t\nXRAY TraceId: 1-61c86fa4-59b3c6d959653c527fd10966\t"
        "SegmentId: 107ea78a5750a811\tSampled: true\t\n"
    )
    (inv,) = LogParser().feed([ev(1, "2021/12/26/[$LATEST]9a8b7c6d5e4f", 1000, line)])
    assert (inv.version, inv.duration_ms, inv.cold, inv.error) == ("$LATEST", 201.67, True, False)
    assert inv.request_id == "8fc6f963-411b-58b5-8483-a32130c0f45d"
