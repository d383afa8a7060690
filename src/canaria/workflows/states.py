"""The loaded form of a state machine: frozen dataclasses, no I/O.

``None`` for ``input_path`` / ``output_path`` / ``result_path`` stands for the JSON
``null`` the definition wrote (input ``{}``, output ``{}``, result discarded); an absent
field is the default path ``$``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from canaria.workflows.choice import ChoiceBranch
from canaria.workflows.paths import Path, parse_path
from canaria.workflows.resources import ResourceKind
from canaria.workflows.templates import Template

ROOT = parse_path("$")


class Jitter(StrEnum):
    FULL = "FULL"
    NONE = "NONE"


@dataclass(frozen=True, kw_only=True)
class Retrier:
    error_equals: tuple[str, ...]
    interval_seconds: float = 1.0
    max_attempts: int = 3
    backoff_rate: float = 2.0
    max_delay_seconds: float | None = None
    jitter: Jitter = Jitter.NONE

    def delay(self, retries_so_far: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retries_so_far + 1`` of this retrier."""
        seconds = self.interval_seconds * self.backoff_rate**retries_so_far
        if self.max_delay_seconds is not None:
            seconds = min(seconds, self.max_delay_seconds)
        match self.jitter:
            case Jitter.FULL:
                return rng.uniform(0.0, seconds)
            case Jitter.NONE:
                return seconds


@dataclass(frozen=True, kw_only=True)
class Catcher:
    error_equals: tuple[str, ...]
    next: str
    result_path: Path | None = ROOT  # None: ResultPath null, keep the input


@dataclass(frozen=True, kw_only=True)
class TaskState:
    name: str
    next: str | None  # None: End
    resource: str
    kind: ResourceKind
    input_path: Path | None = ROOT  # None: InputPath null, the input is {}
    output_path: Path | None = ROOT
    result_path: Path | None = ROOT
    parameters: Template | None = None
    result_selector: Template | None = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()
    timeout_seconds: float | None = None
    timeout_seconds_path: Path | None = None
    # a callback task (.waitForTaskToken): it ends when its token is sent back
    callback: bool = False
    heartbeat_seconds: float | None = None
    heartbeat_seconds_path: Path | None = None


@dataclass(frozen=True, kw_only=True)
class PassState:
    name: str
    next: str | None
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT
    result_path: Path | None = ROOT
    parameters: Template | None = None
    has_result: bool = False
    result: Any = None


@dataclass(frozen=True, kw_only=True)
class ChoiceState:
    name: str
    choices: tuple[ChoiceBranch, ...]
    default: str | None = None
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT


@dataclass(frozen=True, kw_only=True)
class WaitState:
    name: str
    next: str | None
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT
    seconds: float | None = None
    seconds_path: Path | None = None
    timestamp: str | None = None
    timestamp_path: Path | None = None


@dataclass(frozen=True, kw_only=True)
class SucceedState:
    name: str
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT


@dataclass(frozen=True, kw_only=True)
class FailState:
    name: str
    error: str | None = None
    error_path: Path | None = None
    cause: str | None = None
    cause_path: Path | None = None


@dataclass(frozen=True, kw_only=True)
class ParallelState:
    name: str
    next: str | None
    branches: tuple[StateMachine, ...]
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT
    result_path: Path | None = ROOT
    parameters: Template | None = None
    result_selector: Template | None = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ItemReader:
    """A Distributed Map's ``ItemReader``: the items are read from S3, not the input."""

    action: str  # "getObject" (one object's items) or "listObjectsV2" (the objects)
    parameters: Template | None  # Bucket, Key / Prefix, ...
    input_type: str | None = None  # getObject: CSV, JSON or JSONL
    header_location: str = "FIRST_ROW"  # CSV: FIRST_ROW or GIVEN
    headers: tuple[str, ...] = ()  # CSV with GIVEN: the column names
    delimiter: str = ","  # CSV: CSVDelimiter (COMMA, PIPE, SEMICOLON, SPACE, TAB)
    max_items: int | None = None  # ReaderConfig.MaxItems: at most this many items


@dataclass(frozen=True, kw_only=True)
class MapState:
    name: str
    next: str | None
    iterator: StateMachine
    items_path: Path = ROOT
    item_selector: Template | None = None
    max_concurrency: int = 0  # 0: no limit
    distributed: bool = False  # ProcessorConfig Mode DISTRIBUTED
    reader: ItemReader | None = None  # a Distributed Map's ItemReader
    input_path: Path | None = ROOT
    output_path: Path | None = ROOT
    result_path: Path | None = ROOT
    result_selector: Template | None = None
    retry: tuple[Retrier, ...] = ()
    catch: tuple[Catcher, ...] = ()


State = (
    TaskState | PassState | ChoiceState | WaitState | SucceedState | FailState | ParallelState
) | MapState


@dataclass(frozen=True)
class StateMachine:
    start_at: str
    states: Mapping[str, State]
    timeout_seconds: float | None = None
    comment: str = ""
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


__all__ = [
    "ROOT",
    "Catcher",
    "ChoiceState",
    "FailState",
    "ItemReader",
    "Jitter",
    "MapState",
    "ParallelState",
    "PassState",
    "Retrier",
    "State",
    "StateMachine",
    "SucceedState",
    "TaskState",
    "WaitState",
]
