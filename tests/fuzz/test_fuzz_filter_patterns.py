"""Fuzzing CloudWatch Logs filter patterns with Hypothesis: whatever text a caller sends as a
pattern, ``parse`` either returns a pattern or raises ``FilterPatternError`` (never another
exception), and a parsed pattern's ``match`` never raises, whatever the event's text; the
values a match offers never raise either."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from canaria.analysis.filter_patterns import FilterPatternError, Pattern, parse

FUZZ = settings(max_examples=400, deadline=None, derandomize=True)

# pieces that steer the parser into every form and every error branch
pieces = st.sampled_from(
    [
        "{", "}", "[", "]", "(", ")", "$", ".", "$.a", "$.b[0]", "[*]", ".*", "['k.x']", "=",
        "!=", "<", ">", "<=", ">=", "==", "&&", "||", "&", "|", "IS", "NULL", "TRUE", "NOT",
        "EXISTS", "%", "%a.b%", "%[0-9]+%", '"', '"x y"', '\\"', "*", "...", ",", "?", "-",
        "1", "-2.5e3", "+7", "ERROR", "w1", " ", "\t", "é", "\x00", "a" * 30,
    ]
)  # fmt: skip
patterns = st.one_of(
    st.text(max_size=60),
    st.lists(pieces, max_size=25).map("".join),
    st.lists(pieces, max_size=25).map(" ".join),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
events = st.one_of(
    st.text(max_size=80),
    st.lists(pieces, max_size=20).map(" ".join),
    st.dictionaries(st.sampled_from(["a", "b", "k.x", "level"]), json_values).map(json.dumps),
    st.just("[" * 5000 + "]" * 5000),
    st.just('{"a":' * 3000 + "1" + "}" * 3000),
)


def parsed(text: str) -> Pattern | None:
    try:
        return parse(text)
    except FilterPatternError as exc:
        assert exc.column >= 1 and str(exc)
        return None


@FUZZ
@given(pattern=patterns)
@example(pattern="{ " + "(" * 500 + "$.a = 1" + ")" * 500 + " }")
@example(pattern="%[[:alpha:]]%")
@example(pattern="%a{99999999999}%")
@example(pattern="{ $.a[99999999999999] = 1 }")
@example(pattern="[" + "a," * 400 + "b]")
def test_parse_raises_only_filter_pattern_errors(pattern: str) -> None:
    parsed(pattern)


@FUZZ
@given(pattern=patterns, event=events)
@example(pattern="[a, ..., b, ..., c]", event="x y z")
@example(pattern="{ $.a = * }", event='{"a": 1e999}')
@example(pattern='{ $.a = "x" }', event='{"a": "x"' + "}" * 2)
def test_match_never_raises(pattern: str, event: str) -> None:
    compiled = parsed(pattern)
    if compiled is None:
        return
    m = compiled.match(event)
    if m is not None:
        for selector in ("$.a", "$.b[0]", "$['k.x']", "$a", "$1", *m.fields):
            m.value(selector)


@FUZZ
@given(
    pattern=st.sampled_from(
        [
            "{ $.a = * }",
            "{ $.* = %[0-9]% }",
            "{ $.a[*] != x* || $.b IS NULL && $.level NOT EXISTS }",
            "{ $.a > 0 || $.b <= -1.5 }",
            "[x, ..., y = 1* || y > 5, ...]",
            "[a, b, c]",
            '?ERROR ?"x y" ?-',
            "%^a|b$%",
        ]
    ),
    event=events,
)
def test_valid_patterns_never_raise_on_any_event(pattern: str, event: str) -> None:
    m = parse(pattern).match(event)
    if m is not None:
        for selector in ("$.a", "$.b", "$x", "$y", "$2"):
            m.value(selector)
