"""Mocked service integrations, as Step Functions Local reads them from its mock
configuration file (``SFN_MOCK_CONFIG``, ``MockConfigFile.json``).

An execution started with ``StartExecution(stateMachineArn="<machine ARN>#<test case>")``
runs the test case the file gives for that machine: each Task state it names answers with
the mocked responses the file gives that name instead of calling its integration, one per
invocation of the state in the execution, retries and Map iterations included (``"0"``,
``"1-2"``: the first call, the second and third); the last one answers any call after it.
A response is a ``Return`` (the integration's result, which ``ResultSelector`` and
``ResultPath`` then read) or a ``Throw`` (``Error`` and ``Cause``, which ``Retry`` and
``Catch`` match). A Task state the test case does not name calls its integration.

The file is read and checked as a whole when a test case is asked for; what is wrong is
said with where it is (``MockedResponses.MockedLambdaRetry."1-2"``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class MockConfigError(ValueError):
    """What is wrong with a mock configuration, or a test case it does not have."""


@dataclass(frozen=True)
class MockedResponse:
    """One invocation's answer: ``value`` returned, or ``error`` and ``cause`` thrown."""

    value: Any = None
    error: str | None = None
    cause: str = ""


@dataclass(frozen=True)
class MockCase:
    machine: str
    name: str
    # state name → its answers, one per invocation in order (the last one repeats)
    responses: Mapping[str, tuple[MockedResponse, ...]]


class MockedCalls:
    """One execution's use of a test case: how many times each mocked state was called."""

    def __init__(self, case: MockCase) -> None:
        self.case = case
        self._calls: dict[str, int] = {}

    def next(self, state: str) -> MockedResponse | None:
        """The answer to this call of ``state``; None when the test case does not mock it."""
        answers = self.case.responses.get(state)
        if not answers:
            return None
        n = self._calls.get(state, 0)
        self._calls[state] = n + 1
        return answers[min(n, len(answers) - 1)]


def parse_config(text: str) -> Mapping[str, Any]:
    """The mock configuration's JSON object, its shape checked (every test case and
    mocked response, not only the one asked for)."""
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MockConfigError(f"not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise MockConfigError("expected a JSON object with StateMachines and MockedResponses")
    unknown = set(config) - {"StateMachines", "MockedResponses"}
    if unknown:
        raise MockConfigError(
            f"unknown top-level field(s) {', '.join(sorted(unknown))} "
            "(allowed: StateMachines, MockedResponses)"
        )
    machines = _object(config.get("StateMachines", {}), "StateMachines")
    responses = _object(config.get("MockedResponses", {}), "MockedResponses")
    for name, raw in responses.items():
        _answers(raw, f"MockedResponses.{name}")
    for machine, spec in machines.items():
        at = f"StateMachines.{machine}"
        spec = _object(spec, at)
        if set(spec) - {"TestCases"}:
            raise MockConfigError(f"{at}: only TestCases is allowed")
        for case, states in _object(spec.get("TestCases", {}), f"{at}.TestCases").items():
            cat = f"{at}.TestCases.{case}"
            for state, response in _object(states, cat).items():
                if not isinstance(response, str):
                    raise MockConfigError(f"{cat}.{state}: expected a mocked response's name")
                if response not in responses:
                    raise MockConfigError(
                        f"{cat}.{state}: no mocked response {response!r} in MockedResponses"
                    )
    return config


def case_of(config: Mapping[str, Any], machine: str, name: str) -> MockCase:
    """The test case ``name`` of state machine ``machine`` in a configuration
    ``parse_config`` returned."""
    machines = config.get("StateMachines", {})
    if machine not in machines:
        known = ", ".join(sorted(machines)) or "none"
        raise MockConfigError(
            f"state machine {machine!r} has no test cases in the mock configuration "
            f"(it has test cases for: {known})"
        )
    cases = machines[machine].get("TestCases", {})
    if name not in cases:
        known = ", ".join(sorted(cases)) or "none"
        raise MockConfigError(
            f"state machine {machine!r} has no test case {name!r} in the mock configuration "
            f"(its test cases: {known})"
        )
    responses = config.get("MockedResponses", {})
    return MockCase(
        machine,
        name,
        {
            state: _answers(responses[response], f"MockedResponses.{response}")
            for state, response in cases[name].items()
        },
    )


def _answers(raw: Any, at: str) -> tuple[MockedResponse, ...]:
    """A mocked response's answers in invocation order; the ranges must start at 0 and
    follow each other without a gap or an overlap."""
    ranges: list[tuple[int, int, MockedResponse]] = []
    for key, answer in _object(raw, at).items():
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", key)
        if m is None:
            raise MockConfigError(f"{at}.{key!r}: expected an invocation number or a range (1-2)")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if last < first:
            raise MockConfigError(f"{at}.{key!r}: the range ends before it starts")
        ranges.append((first, last, _answer(answer, f"{at}.{key!r}")))
    if not ranges:
        raise MockConfigError(f"{at}: no responses")
    ranges.sort(key=lambda r: r[0])
    out: list[MockedResponse] = []
    for first, last, answer in ranges:
        if first != len(out):
            raise MockConfigError(
                f"{at}: invocation {len(out)} has no response (the next one given starts "
                f"at {first}); responses are numbered from 0 without a gap or an overlap"
            )
        out += [answer] * (last - first + 1)
    return tuple(out)


def _answer(raw: Any, at: str) -> MockedResponse:
    answer = _object(raw, at)
    if set(answer) not in ({"Return"}, {"Throw"}):
        raise MockConfigError(f"{at}: expected exactly one of Return or Throw")
    if "Return" in answer:
        return MockedResponse(value=answer["Return"])
    throw = _object(answer["Throw"], f"{at}.Throw")
    error, cause = throw.get("Error"), throw.get("Cause", "")
    if not isinstance(error, str) or not error or not isinstance(cause, str):
        raise MockConfigError(f"{at}.Throw: expected Error (a name) and Cause (a string)")
    return MockedResponse(error=error, cause=cause)


def _object(value: Any, at: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MockConfigError(f"{at}: expected a JSON object")
    return value


__all__ = [
    "MockCase",
    "MockConfigError",
    "MockedCalls",
    "MockedResponse",
    "case_of",
    "parse_config",
]
