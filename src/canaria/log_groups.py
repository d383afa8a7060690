"""CloudWatch Logs' log groups and streams, over the log book.

A group holds two kinds of lines, both kept by the ``LogBook`` (one sequence of numbers,
so reading a group is one ordered merge, and both are bounded the same way):

- **the functions' lines**: a function writes to ``/aws/lambda/<name>`` (its
  ``FunctionName``, else its logical id; the logical id's name answers too), or instead
  to the group its ``LoggingConfig.LogGroup`` names. Its lines stay under the function
  in the log book (the request path does not change); a group lists the functions that
  write to it. Their streams are named as Lambda names them:
  ``YYYY/MM/DD/[<version>]<id>`` in the default group, ``YYYY/MM/DD/<function>[<version>]<id>``
  in a custom one, where several functions may write.
- **lines written to the group**: by ``PutLogEvents``, a state machine's execution
  history, an EventBridge rule's or pipe's log group target, an API stage's access
  logs. They are kept under ``group:<name>`` (a key no function's logical id can be),
  each with its stream's name.

A group exists once the template declares it (``AWS::Logs::LogGroup``), a function
writes to it, ``CreateLogGroup`` creates it, or one of canaria's own writers first
writes to it (as Step Functions and EventBridge need the group to exist on AWS, a
template that names an undeclared group is in error there; here the lines are kept).
A group's ``RetentionInDays`` hides its lines older than that many days from readers.
Groups and streams live while canaria runs; the lines' files (``logs/``) stay on disk.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from canaria.logbook import LogBook, LogEntry, stream_name
from canaria.models import Application
from canaria.models.arns import ACCOUNT, REGION

__all__ = [
    "DEFAULT_PREFIX",
    "GROUP_NAME",
    "RETENTION_DAYS",
    "GroupInfo",
    "LogGroups",
    "StreamInfo",
    "function_groups",
    "group_arn",
    "group_key",
    "name_of_arn",
]

GROUP_NAME = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")  # what CloudWatch Logs accepts
RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
    2557, 2922, 3288, 3653,
)  # fmt: skip
_ARN = re.compile(r"^arn:aws[\w-]*:logs:[^:]*:[^:]*:log-group:(?P<name>[^:]+)(?::\*)?$")
DEFAULT_PREFIX = "/aws/lambda/"  # a function's own group: this and its name
KEY_PREFIX = "group:"  # the log book's key of the lines written to a group
ALL_LINES = 1_000_000  # the log book bounds a key's lines well below this
DAY_S = 86_400


def group_key(name: str) -> str:
    """The log book's key of the lines written to group ``name``."""
    return KEY_PREFIX + name


def group_arn(name: str) -> str:
    """A log group's ARN (CloudFormation's ``Arn`` attribute adds ``:*``)."""
    return f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def function_groups(
    functions: Iterable[tuple[str, str | None]], function_names: Mapping[str, str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Where functions write, from their ``(logical id, LoggingConfig.LogGroup or None)``
    and the declared ``FunctionName`` -> logical id: each group -> the functions writing
    to it (a ``LoggingConfig`` group, which several may share, else
    ``/aws/lambda/<FunctionName or logical id>``), and each ``/aws/lambda/<logical id>``
    that names another function group (what ``!Sub /aws/lambda/${Fn}`` gives here) ->
    that group."""
    declared = {logical: name for name, logical in function_names.items()}
    writers: dict[str, list[str]] = {}
    aliases: dict[str, str] = {}
    for function, custom in functions:
        group = custom or DEFAULT_PREFIX + declared.get(function, function)
        if custom is None and function in declared:
            aliases[DEFAULT_PREFIX + function] = group
        writers.setdefault(group, []).append(function)
    return writers, aliases


def name_of_arn(arn: str) -> str | None:
    """The group a log group ARN names (with or without its ``:*``), or None."""
    m = _ARN.match(arn)
    return m.group("name") if m else None


@dataclass
class GroupInfo:
    name: str
    created_ms: int
    retention_days: int | None = None
    functions: tuple[str, ...] = ()  # the functions writing to it (logical ids)
    streams: dict[str, int] = field(default_factory=dict)  # its own streams -> created (ms)

    @property
    def key(self) -> str:
        return group_key(self.name)


@dataclass
class StreamInfo:
    name: str
    created_ms: int
    first_ms: int | None = None
    last_ms: int | None = None


class LogGroups:
    def __init__(self, logbook: LogBook, now: Callable[[], float]) -> None:
        self._logbook = logbook
        self._now = now
        self._groups: dict[str, GroupInfo] = {}
        self._function_groups: dict[str, str] = {}  # function (logical id) -> its group
        self._aliases: dict[str, str] = {}  # /aws/lambda/<logical id> -> its group's name
        self._elsewhere: set[str] = set()  # the functions writing to a LoggingConfig group

    # -- which groups exist --------------------------------------------------------------

    def configure(self, app: Application) -> None:
        """The application's groups: each function's, and the template's. Groups created
        through the API or by a writer stay; a function no longer writes to a group it
        left. A function's own group is named by its ``FunctionName`` when it declares
        one (as on AWS), and answers to ``/aws/lambda/<logical id>`` too."""
        for info in self._groups.values():
            info.functions = ()
        writers, self._aliases = function_groups(
            ((fn.name, fn.log_group) for fn in app.functions.values()), app.function_names
        )
        self._function_groups = {f: group for group, fs in writers.items() for f in fs}
        self._elsewhere = {fn.name for fn in app.functions.values() if fn.log_group}
        for name, functions in writers.items():
            self.ensure(name).functions = tuple(functions)
        for spec in app.log_groups.values():
            # ``/aws/lambda/${Fn}`` is the function's own group, named by its FunctionName
            info = self.ensure(self._aliases.get(spec.name, spec.name))
            info.retention_days = spec.retention_days
            for stream in spec.streams:
                info.streams.setdefault(stream, self._ms())

    def group_of(self, function: str) -> str:
        """The group a function (logical id) writes to."""
        return self._function_groups.get(function, DEFAULT_PREFIX + function)

    def ensure(self, name: str) -> GroupInfo:
        info = self._groups.get(name)
        if info is None:
            info = self._groups[name] = GroupInfo(name, self._ms())
        return info

    def get(self, name: str) -> GroupInfo | None:
        info = self._groups.get(name)
        if info is None and name in self._aliases:
            info = self._groups.get(self._aliases[name])
        return info

    def names(self) -> list[str]:
        return sorted(self._groups)

    def delete(self, name: str) -> bool:
        return self._groups.pop(name, None) is not None

    # -- writing -------------------------------------------------------------------------

    def write(self, group: str, stream: str, events: Iterable[tuple[int, str]]) -> None:
        """Add ``(timestamp ms, message)`` events to a stream of a group, creating both
        when they do not exist (canaria's own writers)."""
        info = self.ensure(group)
        info.streams.setdefault(stream, self._ms())
        add = self._logbook.add
        for timestamp, message in events:
            add(info.key, 0, "", timestamp / 1000, stream, message)

    # -- reading -------------------------------------------------------------------------

    def lines(self, info: GroupInfo, after: int = 0) -> Iterator[tuple[LogEntry, str]]:
        """The group's lines after sequence number ``after``, oldest first, each with its
        stream's name; lines older than the group's retention are left out."""
        since = self._logbook.since
        sources = [since(fn, after, ALL_LINES) for fn in info.functions]
        sources.append(since(info.key, after, ALL_LINES))
        oldest = None
        if info.retention_days is not None:
            oldest = self._now() - info.retention_days * DAY_S
        for entry in heapq.merge(*sources, key=lambda e: e.seq):
            if oldest is not None and entry.time < oldest:
                continue
            yield entry, self.stream_of(entry)

    def stream_of(self, entry: LogEntry) -> str:
        """The stream a line is in: a written line's own; a function's as Lambda names it,
        ``YYYY/MM/DD/[v]id``, or ``YYYY/MM/DD/<function>[v]id`` in a ``LoggingConfig``
        group (whatever that group's name, ``/aws/lambda/...`` included)."""
        if entry.function.startswith(KEY_PREFIX):
            return entry.stream
        name = stream_name(entry)
        if entry.function in self._elsewhere:
            day, _, rest = name.rpartition("/")
            return f"{day}/{entry.function}{rest}"
        return name

    def streams(self, info: GroupInfo) -> list[StreamInfo]:
        """The group's streams: its own (even empty) and those its lines name."""
        out = {name: StreamInfo(name, created) for name, created in info.streams.items()}
        for entry, stream in self.lines(info):
            ms = int(entry.time * 1000)
            s = out.get(stream)
            if s is None:
                s = out[stream] = StreamInfo(stream, ms)
            s.first_ms = ms if s.first_ms is None else min(s.first_ms, ms)
            s.last_ms = ms if s.last_ms is None else max(s.last_ms, ms)
        return list(out.values())

    def _ms(self) -> int:
        return int(self._now() * 1000)
