"""Log groups over the log book: a group reads its functions' lines and its own in one
order, names streams as Lambda and the writers do, hides lines past its retention, and
writes its own lines to a file named safely; state machines' history records and the
levels that admit them; the template's log group errors at their line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canaria.aws.execution_logs import ExecutionLog, admits
from canaria.log_groups import LogGroups, group_key, name_of_arn
from canaria.logbook import LogBook
from canaria.models import Application, ExecutionLogging, FunctionConfig, FunctionSpec, LogGroupSpec
from canaria.workflows import HistoryEvent
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

DAY = 86_400.0


def app(*functions: FunctionSpec, groups: tuple[LogGroupSpec, ...] = ()) -> Application:
    return Application(
        template_path="t.yaml",
        functions={f.name: f for f in functions},
        log_groups={g.name: g for g in groups},
    )


def fn(name: str, group: str | None = None) -> FunctionSpec:
    return FunctionSpec(name, FunctionConfig("app.handler", "python3.11", "/code"), log_group=group)


def test_a_shared_group_merges_its_functions_and_its_own_lines_in_order(tmp_path: Path) -> None:
    book = LogBook(str(tmp_path))
    now = [10 * DAY]
    groups = LogGroups(book, lambda: now[0])
    groups.configure(app(fn("A", "shared"), fn("B", "shared"), fn("C")))
    book.add("A", 1, "req-a", now[0], "stdout", "from a")
    groups.write("shared", "mine", [(int(now[0] * 1000), "written")])
    book.add("B", 2, "req-b", now[0], "stdout", "from b")
    book.add("C", 1, "req-c", now[0], "stdout", "not here")
    shared = groups.get("shared")
    assert shared is not None
    lines = [(e.text, stream) for e, stream in groups.lines(shared)]
    assert [text for text, _ in lines] == ["from a", "written", "from b"]
    assert "/A[1]" in lines[0][1] and lines[1][1] == "mine" and "/B[2]" in lines[2][1]
    own = groups.get("/aws/lambda/C")
    assert own is not None
    ((_entry, stream),) = groups.lines(own)
    assert "/[1]" in stream and "/C[" not in stream  # the default group's names
    # a LoggingConfig group named like a default one still names its function's streams
    groups.configure(app(fn("D", "/aws/lambda/stack")))
    book.add("D", 3, "req-d", now[0], "stdout", "from d")
    stack = groups.get("/aws/lambda/stack")
    assert stack is not None
    ((_entry, stream),) = groups.lines(stack)
    assert "/D[3]" in stream
    book.close()
    # a group's own lines go to a file whose name keeps its slashes out of the path
    assert (tmp_path / "group%3Ashared.log").read_text().strip().endswith("written")


def test_retention_hides_old_lines_and_configure_keeps_api_groups() -> None:
    book = LogBook(None)
    now = [100 * DAY]
    groups = LogGroups(book, lambda: now[0])
    groups.configure(app(groups=(LogGroupSpec("G", "kept", retention_days=1),)))
    groups.write(
        "kept", "s", [(int((now[0] - 2 * DAY) * 1000), "old"), (int(now[0] * 1000), "new")]
    )
    groups.write("made-by-code", "s", [(int(now[0] * 1000), "x")])
    kept = groups.get("kept")
    assert kept is not None
    assert [e.text for e, _ in groups.lines(kept)] == ["new"]
    groups.configure(app())  # a new template: the API's group stays
    assert groups.get("made-by-code") is not None
    (stream,) = groups.streams(kept)
    assert (stream.name, stream.first_ms) == ("s", int(now[0] * 1000))  # the old line is gone


def test_arn_and_key_forms() -> None:
    assert name_of_arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/x:*") == "/aws/x"
    assert name_of_arn("arn:aws:logs:us-east-1:123456789012:log-group:plain") == "plain"
    assert name_of_arn("arn:aws:sqs:us-east-1:123456789012:queue") is None
    assert group_key("/aws/x") == "group:/aws/x"


@pytest.mark.parametrize(
    ("level", "kind", "admitted"),
    [
        ("ALL", "PassStateEntered", True),
        ("ERROR", "PassStateEntered", False),
        ("ERROR", "TaskFailed", True),
        ("ERROR", "FailStateEntered", True),
        ("FATAL", "TaskFailed", False),
        ("FATAL", "ExecutionTimedOut", True),
    ],
)
def test_levels(level: str, kind: str, admitted: bool) -> None:
    assert admits(level, kind) is admitted


def test_history_records_leave_data_out_unless_included() -> None:
    book = LogBook(None)
    groups = LogGroups(book, lambda: 0.0)
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:e"
    exited = HistoryEvent(3, 2, 1.5, "PassStateExited", {"name": "P", "output": '{"a":1}'})
    for include in (False, True):
        log = ExecutionLog(groups, ExecutionLogging(f"g{include}", "ALL", include), "m", arn, 0.0)
        log.write(exited)
        info = groups.get(f"g{include}")
        assert info is not None
        ((entry, stream),) = groups.lines(info)
        record = json.loads(entry.text)
        assert stream == log.stream and stream.startswith("states/m/1970-01-01-00-00/")
        assert record == {
            "id": "3",
            "type": "PassStateExited",
            "details": {"name": "P", **({"output": '{"a":1}'} if include else {})},
            "previous_event_id": "2",
            "event_timestamp": "1500",
            "execution_arn": arn,
            "redrive_count": "0",
        }


def test_template_log_group_errors_name_their_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        resources(
            "  Logs:\n    Type: AWS::Logs::LogGroup\n    Properties:\n      RetentionInDays: 2\n"
        ),
    )
    error = fails(path)
    assert "RetentionInDays 2" in error.message and error.line == line_of(path, "RetentionInDays")
    path = write(
        tmp_path,
        resources(
            function(extra="LoggingConfig:\n  LogGroup: 'bad name'\n"),
        ),
    )
    assert "log group name 'bad name'" in fails(path).message
    machine = """\
  M:
    Type: AWS::Serverless::StateMachine
    Properties:
      Logging: {Level: ERROR}
      Definition: {StartAt: P, States: {P: {Type: Pass, End: true}}}
"""
    error = fails(write(tmp_path, resources(machine)))
    assert "log level ERROR needs exactly one destination" in error.message


def test_a_named_functions_group_is_named_by_its_function_name() -> None:
    """Lambda names a function's group by its FunctionName; canaria's !Ref of the function
    is its logical id, so the template's /aws/lambda/${Fn} names the same group."""
    book = LogBook(None)
    groups = LogGroups(book, lambda: 0.0)
    base = app(fn("Fn"), groups=(LogGroupSpec("G", "/aws/lambda/Fn", retention_days=3),))
    groups.configure(
        Application(
            "t.yaml", base.functions, function_names={"orders": "Fn"}, log_groups=base.log_groups
        )
    )
    assert groups.group_of("Fn") == "/aws/lambda/orders"
    named, by_id = groups.get("/aws/lambda/orders"), groups.get("/aws/lambda/Fn")
    assert named is not None and named is by_id
    assert (named.functions, named.retention_days) == (("Fn",), 3)
    assert groups.names() == ["/aws/lambda/orders"]
