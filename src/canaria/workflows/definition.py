"""Load an ASL definition into frozen dataclasses, refusing what canaria cannot run.

Everything that can be checked without input is checked here, so a bad definition fails
at load with the state's name and the feature (``state "Check": Choice rule uses unknown
operator "StringEq"``), never halfway through an execution.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from canaria.workflows.choice import parse_choice, parse_timestamp
from canaria.workflows.errors import ALL, DefinitionError
from canaria.workflows.paths import Path, PathSyntaxError, parse_path, parse_reference_path
from canaria.workflows.resources import (
    UnsupportedResource,
    callback,
    integration,
    resource_kind,
    service_call,
)
from canaria.workflows.states import (
    ROOT,
    Catcher,
    ChoiceState,
    FailState,
    ItemReader,
    Jitter,
    MapState,
    ParallelState,
    PassState,
    Retrier,
    State,
    StateMachine,
    SucceedState,
    TaskState,
    WaitState,
)
from canaria.workflows.templates import Template, parse_template

_COMMON = {"Type", "Comment"}
_IO = {"InputPath", "OutputPath"}
_FLOW = {"Next", "End"}
_RESULT = {"ResultPath", "Parameters"}
_ERRORS = {"Retry", "Catch"}
_FIELDS: dict[str, set[str]] = {
    "Task": _COMMON
    | _IO
    | _FLOW
    | _RESULT
    | _ERRORS
    | {"Resource", "ResultSelector", "TimeoutSeconds", "TimeoutSecondsPath"}
    | {"HeartbeatSeconds", "HeartbeatSecondsPath"},
    "Pass": _COMMON | _IO | _FLOW | _RESULT | {"Result"},
    "Choice": _COMMON | _IO | {"Choices", "Default"},
    "Wait": _COMMON | _IO | _FLOW | {"Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "ErrorPath", "Cause", "CausePath"},
    "Parallel": _COMMON | _IO | _FLOW | _RESULT | _ERRORS | {"Branches", "ResultSelector"},
    "Map": _COMMON
    | _IO
    | _FLOW
    | _RESULT
    | _ERRORS
    | {"Iterator", "ItemProcessor", "ItemsPath", "ItemSelector", "MaxConcurrency", "ItemReader"}
    | {"ResultSelector", "Label"},
}
_UNSUPPORTED = {
    "Arguments": "JSONata Arguments",
    "Output": "JSONata Output",
    "Assign": "variables (Assign)",
    "Credentials": "cross-account Credentials",
    "ItemBatcher": "Distributed Map ItemBatcher",
    "ResultWriter": "Distributed Map ResultWriter",
    "ToleratedFailurePercentage": "Distributed Map ToleratedFailurePercentage",
    "ToleratedFailurePercentagePath": "Distributed Map ToleratedFailurePercentagePath",
    "ToleratedFailureCount": "Distributed Map ToleratedFailureCount",
    "ToleratedFailureCountPath": "Distributed Map ToleratedFailureCountPath",
    "MaxConcurrencyPath": "MaxConcurrencyPath",
    "Items": "JSONata Items",
}


def load_definition(definition: str | Mapping[str, Any]) -> StateMachine:
    """Parse and validate a definition (JSON text or the decoded object)."""
    if isinstance(definition, str):
        try:
            definition = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"the definition is not valid JSON: {exc}") from None
    if not isinstance(definition, Mapping):
        raise DefinitionError("the definition must be a JSON object")
    machine = _machine(definition, where="the state machine")
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None:
        if not _positive_int(timeout):
            raise DefinitionError("TimeoutSeconds must be a positive integer")
        machine = StateMachine(
            machine.start_at, machine.states, float(timeout), machine.comment, definition
        )
    extra = set(definition) - {"StartAt", "States", "Comment", "TimeoutSeconds", "Version"}
    extra.discard("QueryLanguage")
    if extra:
        raise DefinitionError(f"unknown top-level field(s): {', '.join(sorted(extra))}")
    return machine


def unserved_tasks(machine: StateMachine) -> list[tuple[str, str]]:
    """``(state, resource)`` of each Task (in branches and iterators too) that calls a
    service canaria does not serve: accepted, as Step Functions accepts it; it fails when
    it runs."""
    found: list[tuple[str, str]] = []
    for state in machine.states.values():
        if isinstance(state, TaskState) and state.kind in ("aws_sdk", "aws_service"):
            if not service_call(integration(state.resource)).served:
                found.append((state.name, state.resource))
        elif isinstance(state, ParallelState):
            for branch in state.branches:
                found += unserved_tasks(branch)
        elif isinstance(state, MapState):
            found += unserved_tasks(state.iterator)
    return found


def _machine(obj: Mapping[str, Any], *, where: str) -> StateMachine:
    _query_language(obj, None)
    start_at = obj.get("StartAt")
    if not isinstance(start_at, str):
        raise DefinitionError(f"{where} has no StartAt")
    raw_states = obj.get("States")
    if not isinstance(raw_states, Mapping) or not raw_states:
        raise DefinitionError(f"{where} has no States")
    states: dict[str, State] = {}
    for name, raw in raw_states.items():
        if not isinstance(raw, Mapping):
            raise DefinitionError("a state must be an object", state=name)
        states[name] = _state(name, raw)
    if start_at not in states:
        raise DefinitionError(f"{where}: StartAt names a missing state {start_at!r}")
    for state in states.values():
        for target, what in _targets(state):
            if target not in states:
                raise DefinitionError(
                    f"{what} points to a missing state {target!r}", state=state.name
                )
    comment = obj.get("Comment", "")
    return StateMachine(start_at, states, None, comment if isinstance(comment, str) else "", obj)


def _targets(state: State) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    flowing = TaskState | PassState | WaitState | ParallelState | MapState
    if isinstance(state, flowing) and state.next is not None:
        out.append((state.next, "Next"))
    if isinstance(state, TaskState | ParallelState | MapState):
        out += [(c.next, "Catch Next") for c in state.catch]
    if isinstance(state, ChoiceState):
        out += [(c.next, "Choice rule Next") for c in state.choices]
        if state.default is not None:
            out.append((state.default, "Default"))
    return out


def _query_language(obj: Mapping[str, Any], name: str | None) -> None:
    language = obj.get("QueryLanguage", "JSONPath")
    if language != "JSONPath":
        raise DefinitionError(
            f"QueryLanguage {language!r} is not supported (only JSONPath)", state=name
        )


def _state(name: str, raw: Mapping[str, Any]) -> State:
    kind = raw.get("Type")
    if kind not in _FIELDS:
        raise DefinitionError(f"unknown Type {kind!r} (allowed: {', '.join(_FIELDS)})", state=name)
    _query_language(raw, name)
    for key in raw:
        if key in _UNSUPPORTED:
            raise DefinitionError(f"{_UNSUPPORTED[key]} is not supported", state=name)
    unknown = set(raw) - _FIELDS[kind] - {"QueryLanguage"} - _FLOW  # Next/End: checked below
    if unknown:
        raise DefinitionError(
            f"{kind} state has unknown field(s): {', '.join(sorted(unknown))}", state=name
        )
    b = _Builder(name, raw)
    match kind:
        case "Task":
            resource = raw.get("Resource")
            if not isinstance(resource, str) or not resource:
                raise DefinitionError("a Task needs a Resource", state=name)
            try:
                resource_type = resource_kind(resource)
            except UnsupportedResource as exc:
                raise DefinitionError(str(exc), state=name) from None
            timeout = raw.get("TimeoutSeconds")
            if timeout is not None and not _positive_int(timeout):
                raise DefinitionError("TimeoutSeconds must be a positive integer", state=name)
            if timeout is not None and "TimeoutSecondsPath" in raw:
                raise DefinitionError(
                    "use TimeoutSeconds or TimeoutSecondsPath, not both", state=name
                )
            heartbeat = raw.get("HeartbeatSeconds")
            if heartbeat is not None and not _positive_int(heartbeat):
                raise DefinitionError("HeartbeatSeconds must be a positive integer", state=name)
            if heartbeat is not None and "HeartbeatSecondsPath" in raw:
                raise DefinitionError(
                    "use HeartbeatSeconds or HeartbeatSecondsPath, not both", state=name
                )
            if heartbeat is not None and timeout is not None and heartbeat >= timeout:
                raise DefinitionError(
                    "HeartbeatSeconds must be smaller than TimeoutSeconds", state=name
                )
            return TaskState(
                name=name,
                next=b.next(),
                resource=resource,
                kind=resource_type,
                input_path=b.path("InputPath"),
                output_path=b.path("OutputPath"),
                result_path=b.reference("ResultPath"),
                parameters=b.template("Parameters"),
                result_selector=b.template("ResultSelector"),
                retry=b.retry(),
                catch=b.catch(),
                timeout_seconds=None if timeout is None else float(timeout),
                timeout_seconds_path=b.optional_path("TimeoutSecondsPath"),
                callback=callback(resource),
                heartbeat_seconds=None if heartbeat is None else float(heartbeat),
                heartbeat_seconds_path=b.optional_path("HeartbeatSecondsPath"),
            )
        case "Pass":
            return PassState(
                name=name,
                next=b.next(),
                input_path=b.path("InputPath"),
                output_path=b.path("OutputPath"),
                result_path=b.reference("ResultPath"),
                parameters=b.template("Parameters"),
                has_result="Result" in raw,
                result=raw.get("Result"),
            )
        case "Choice":
            choices = raw.get("Choices")
            if not isinstance(choices, list) or not choices:
                raise DefinitionError("a Choice state needs a non-empty Choices array", state=name)
            default = raw.get("Default")
            if default is not None and not isinstance(default, str):
                raise DefinitionError("Default must be a state name", state=name)
            if "Next" in raw or "End" in raw:
                raise DefinitionError("a Choice state cannot have Next or End", state=name)
            return ChoiceState(
                name=name,
                choices=tuple(parse_choice(c, name) for c in choices),
                default=default,
                input_path=b.path("InputPath"),
                output_path=b.path("OutputPath"),
            )
        case "Wait":
            given = [
                k for k in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath") if k in raw
            ]
            if len(given) != 1:
                raise DefinitionError(
                    "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, "
                    f"TimestampPath (got {', '.join(given) or 'none'})",
                    state=name,
                )
            seconds = raw.get("Seconds")
            if seconds is not None and not (_positive_int(seconds) or seconds == 0):
                raise DefinitionError("Seconds must be a non-negative integer", state=name)
            timestamp = raw.get("Timestamp")
            if timestamp is not None and parse_timestamp(timestamp) is None:
                raise DefinitionError(f"Timestamp {timestamp!r} is not RFC 3339", state=name)
            return WaitState(
                name=name,
                next=b.next(),
                input_path=b.path("InputPath"),
                output_path=b.path("OutputPath"),
                seconds=None if seconds is None else float(seconds),
                seconds_path=b.optional_path("SecondsPath"),
                timestamp=timestamp,
                timestamp_path=b.optional_path("TimestampPath"),
            )
        case "Succeed":
            b.terminal()
            return SucceedState(
                name=name, input_path=b.path("InputPath"), output_path=b.path("OutputPath")
            )
        case "Fail":
            b.terminal()
            for plain in ("Error", "Cause"):
                if plain in raw and f"{plain}Path" in raw:
                    raise DefinitionError(f"use {plain} or {plain}Path, not both", state=name)
                if plain in raw and not isinstance(raw[plain], str):
                    raise DefinitionError(f"{plain} must be a string", state=name)
            return FailState(
                name=name,
                error=raw.get("Error"),
                error_path=b.optional_path("ErrorPath"),
                cause=raw.get("Cause"),
                cause_path=b.optional_path("CausePath"),
            )
        case "Parallel":
            branches = raw.get("Branches")
            if not isinstance(branches, list) or not branches:
                raise DefinitionError(
                    "a Parallel state needs a non-empty Branches array", state=name
                )
            return ParallelState(
                name=name,
                next=b.next(),
                branches=tuple(b.sub_machine(br, f"branch {i}") for i, br in enumerate(branches)),
                input_path=b.path("InputPath"),
                output_path=b.path("OutputPath"),
                result_path=b.reference("ResultPath"),
                parameters=b.template("Parameters"),
                result_selector=b.template("ResultSelector"),
                retry=b.retry(),
                catch=b.catch(),
            )
        case "Map":
            return _map(b)
    raise AssertionError(kind)


def _map(b: _Builder) -> MapState:
    raw, name = b.raw, b.name
    if ("Iterator" in raw) == ("ItemProcessor" in raw):
        raise DefinitionError(
            "a Map state needs exactly one of Iterator or ItemProcessor", state=name
        )
    processor = raw.get("Iterator") or raw.get("ItemProcessor")
    if not isinstance(processor, Mapping):
        raise DefinitionError("ItemProcessor must be an object", state=name)
    config = processor.get("ProcessorConfig", {})
    mode = config.get("Mode", "INLINE") if isinstance(config, Mapping) else None
    if mode not in ("INLINE", "DISTRIBUTED"):
        raise DefinitionError(
            f"Map ProcessorConfig Mode {mode!r}: expected INLINE or DISTRIBUTED", state=name
        )
    distributed = mode == "DISTRIBUTED"
    if "ItemReader" in raw and not distributed:
        raise DefinitionError("ItemReader needs ProcessorConfig Mode DISTRIBUTED", state=name)
    if "ItemReader" in raw and "ItemsPath" in raw:
        raise DefinitionError("use ItemReader or ItemsPath, not both", state=name)
    if "ItemSelector" in raw and "Parameters" in raw:
        raise DefinitionError("use ItemSelector or Parameters, not both", state=name)
    concurrency = raw.get("MaxConcurrency", 0)
    if not (_positive_int(concurrency) or concurrency == 0):
        raise DefinitionError("MaxConcurrency must be a non-negative integer", state=name)
    body = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
    items_path = b.path("ItemsPath")
    return MapState(
        name=name,
        next=b.next(),
        iterator=b.sub_machine(body, "ItemProcessor"),
        items_path=ROOT if items_path is None else items_path,
        item_selector=b.template("ItemSelector") or b.template("Parameters"),
        max_concurrency=int(concurrency),
        distributed=distributed,
        reader=_item_reader(raw["ItemReader"], name) if "ItemReader" in raw else None,
        input_path=b.path("InputPath"),
        output_path=b.path("OutputPath"),
        result_path=b.reference("ResultPath"),
        result_selector=b.template("ResultSelector"),
        retry=b.retry(),
        catch=b.catch(),
    )


_READER = "arn:aws:states:::s3:"
_READER_KEYS = {"Resource", "ReaderConfig", "Parameters"}
_READER_CONFIG_KEYS = {"InputType", "CSVHeaderLocation", "CSVHeaders", "CSVDelimiter", "MaxItems"}
_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}


def _only_fields(obj: Mapping[str, Any], allowed: set[str], what: str, name: str) -> None:
    extra = set(obj) - allowed
    if extra:
        raise DefinitionError(
            f"{what} field {sorted(extra)[0]!r} is not supported (allowed: "
            f"{', '.join(sorted(allowed))})",
            state=name,
        )


def _item_reader(raw: Any, name: str) -> ItemReader:
    """A Distributed Map's ItemReader: an S3 object's items (CSV, JSON, JSON Lines) or the
    objects under a prefix; manifests, Parquet and ``MaxItemsPath`` are refused."""
    if not isinstance(raw, Mapping):
        raise DefinitionError("ItemReader must be an object", state=name)
    _only_fields(raw, _READER_KEYS, "ItemReader", name)
    resource = raw.get("Resource")
    action = (
        resource.removeprefix(_READER)
        if isinstance(resource, str) and resource.startswith(_READER)
        else None
    )
    if action not in ("getObject", "listObjectsV2"):
        raise DefinitionError(
            f"ItemReader Resource {resource!r}: canaria reads {_READER}getObject and "
            f"{_READER}listObjectsV2",
            state=name,
        )
    config = raw.get("ReaderConfig", {})
    if not isinstance(config, Mapping):
        raise DefinitionError("ItemReader ReaderConfig must be an object", state=name)
    _only_fields(config, _READER_CONFIG_KEYS, "ItemReader ReaderConfig", name)
    input_type = config.get("InputType")
    if action == "getObject" and input_type not in ("CSV", "JSON", "JSONL"):
        raise DefinitionError(
            f"ItemReader InputType {input_type!r}: canaria reads CSV, JSON and JSONL objects",
            state=name,
        )
    header_location = config.get("CSVHeaderLocation", "FIRST_ROW")
    headers = config.get("CSVHeaders", [])
    if header_location not in ("FIRST_ROW", "GIVEN"):
        raise DefinitionError("CSVHeaderLocation must be FIRST_ROW or GIVEN", state=name)
    if header_location == "GIVEN" and not (
        isinstance(headers, list) and headers and all(isinstance(h, str) for h in headers)
    ):
        raise DefinitionError(
            "CSVHeaderLocation GIVEN needs CSVHeaders, a list of names", state=name
        )
    delimiter = config.get("CSVDelimiter", "COMMA")
    if delimiter not in _DELIMITERS:
        raise DefinitionError(
            f"CSVDelimiter {delimiter!r} (allowed: {', '.join(_DELIMITERS)})", state=name
        )
    max_items = config.get("MaxItems")
    if max_items is not None and not _positive_int(max_items):
        raise DefinitionError("ReaderConfig MaxItems must be a positive integer", state=name)
    parameters = raw.get("Parameters")
    return ItemReader(
        action=action,
        parameters=None
        if parameters is None
        else parse_template(parameters, state=name, field="ItemReader.Parameters"),
        input_type=input_type,
        header_location=header_location,
        headers=tuple(headers) if header_location == "GIVEN" else (),
        delimiter=_DELIMITERS[delimiter],
        max_items=max_items,
    )


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Builder:
    """Reads the fields of one raw state, raising DefinitionError with its name."""

    def __init__(self, name: str, raw: Mapping[str, Any]) -> None:
        self.name = name
        self.raw = raw

    def fail(self, message: str) -> DefinitionError:
        return DefinitionError(message, state=self.name)

    def next(self) -> str | None:
        nxt, end = self.raw.get("Next"), self.raw.get("End")
        if end is True and nxt is None:
            return None
        if isinstance(nxt, str) and end is None:
            return nxt
        if nxt is not None and end is not None:
            raise self.fail("a state cannot have both Next and End")
        if end is not None and end is not True:
            raise self.fail("End must be true")
        raise self.fail("a state needs a Next or End: true")

    def terminal(self) -> None:
        if "Next" in self.raw or "End" in self.raw:
            raise self.fail(f"a {self.raw['Type']} state cannot have Next or End")

    def path(self, key: str) -> Path | None:
        if key not in self.raw:
            return ROOT
        value = self.raw[key]
        if value is None:
            return None
        return self._parse(key, value, parse_path)

    def optional_path(self, key: str) -> Path | None:
        value = self.raw.get(key)
        return None if value is None else self._parse(key, value, parse_path)

    def reference(self, key: str) -> Path | None:
        if key not in self.raw:
            return ROOT
        value = self.raw[key]
        return None if value is None else self._parse(key, value, parse_reference_path)

    def _parse(self, key: str, value: Any, parser: Any) -> Path:
        if not isinstance(value, str):
            raise self.fail(f"{key} must be a path string or null")
        try:
            path: Path = parser(value)
        except PathSyntaxError as exc:
            raise self.fail(f"{key}: {exc}") from None
        return path

    def template(self, key: str) -> Template | None:
        if key not in self.raw:
            return None
        return parse_template(self.raw[key], state=self.name, field=key)

    def sub_machine(self, obj: Any, where: str) -> StateMachine:
        if not isinstance(obj, Mapping):
            raise self.fail(f"{where} must be an object with StartAt and States")
        extra = set(obj) - {"StartAt", "States", "Comment", "QueryLanguage"}
        if extra:
            raise self.fail(f"{where} has unknown field(s): {', '.join(sorted(extra))}")
        return _machine(obj, where=f'state "{self.name}" {where}')

    def _error_equals(self, obj: Mapping[str, Any], what: str, last: bool) -> tuple[str, ...]:
        names = obj.get("ErrorEquals")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise self.fail(f"each {what} needs a non-empty ErrorEquals array of names")
        if ALL in names and (len(names) != 1 or not last):
            raise self.fail(f"States.ALL must be alone in ErrorEquals and in the last {what}")
        return tuple(names)

    def retry(self) -> tuple[Retrier, ...]:
        raw = self.raw.get("Retry", [])
        if not isinstance(raw, list):
            raise self.fail("Retry must be an array")
        out: list[Retrier] = []
        for i, obj in enumerate(raw):
            if not isinstance(obj, Mapping):
                raise self.fail("each retrier must be an object")
            allowed = {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "Comment"}
            allowed |= {"MaxDelaySeconds", "JitterStrategy"}
            if set(obj) - allowed:
                raise self.fail(
                    f"retrier has unknown field(s): {', '.join(sorted(set(obj) - allowed))}"
                )
            interval = obj.get("IntervalSeconds", 1)
            attempts = obj.get("MaxAttempts", 3)
            backoff = obj.get("BackoffRate", 2.0)
            max_delay = obj.get("MaxDelaySeconds")
            jitter = obj.get("JitterStrategy", "NONE")
            if not _positive_int(interval):
                raise self.fail("Retry IntervalSeconds must be a positive integer")
            if not (isinstance(attempts, int) and not isinstance(attempts, bool) and attempts >= 0):
                raise self.fail("Retry MaxAttempts must be a non-negative integer")
            if not _number(backoff) or backoff < 1.0:
                raise self.fail("Retry BackoffRate must be a number >= 1.0")
            if max_delay is not None and not _positive_int(max_delay):
                raise self.fail("Retry MaxDelaySeconds must be a positive integer")
            if jitter not in ("FULL", "NONE"):
                raise self.fail("Retry JitterStrategy must be FULL or NONE")
            out.append(
                Retrier(
                    error_equals=self._error_equals(obj, "retrier", i == len(raw) - 1),
                    interval_seconds=float(interval),
                    max_attempts=attempts,
                    backoff_rate=float(backoff),
                    max_delay_seconds=None if max_delay is None else float(max_delay),
                    jitter=Jitter(jitter),
                )
            )
        return tuple(out)

    def catch(self) -> tuple[Catcher, ...]:
        raw = self.raw.get("Catch", [])
        if not isinstance(raw, list):
            raise self.fail("Catch must be an array")
        out: list[Catcher] = []
        for i, obj in enumerate(raw):
            if not isinstance(obj, Mapping):
                raise self.fail("each catcher must be an object")
            allowed = {"ErrorEquals", "Next", "ResultPath", "Comment"}
            if "Assign" in obj or "Output" in obj:
                raise self.fail("Catch Assign / Output (variables, JSONata) are not supported")
            if set(obj) - allowed:
                raise self.fail(
                    f"catcher has unknown field(s): {', '.join(sorted(set(obj) - allowed))}"
                )
            nxt = obj.get("Next")
            if not isinstance(nxt, str):
                raise self.fail("each catcher needs a Next")
            result_path: Path | None = ROOT
            if "ResultPath" in obj:
                value = obj["ResultPath"]
                result_path = (
                    None
                    if value is None
                    else self._parse("Catch ResultPath", value, parse_reference_path)
                )
            out.append(
                Catcher(
                    error_equals=self._error_equals(obj, "catcher", i == len(raw) - 1),
                    next=nxt,
                    result_path=result_path,
                )
            )
        return tuple(out)


__all__ = ["load_definition", "unserved_tasks"]
