"""Metric math: parsing, kinds and values over a grid of periods, as CloudWatch's "Metric
math syntax and functions" describes them."""

from __future__ import annotations

import math

import pytest

from canaria.analysis.metric_values import Grid, Series, Value, evaluate
from canaria.models.metric_math import MathError, Unsupported, kind, parse, references

GRID = Grid((0.0, 60.0, 120.0, 180.0), 60)
SERIES: dict[str, Series] = {
    "m1": [10.0, 20.0, None, 40.0],  # invocations
    "m2": [1.0, 0.0, None, None],  # errors (missing where nothing ran)
    "m3": [None, None, None, None],
}
KINDS = dict.fromkeys(SERIES, "series")


def run(expression: str) -> Value:
    node = parse(expression)
    kind(node, KINDS)  # type: ignore[arg-type]
    return evaluate(node, GRID, lambda i: SERIES[i], list(SERIES))


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("100 * m2 / m1", [10.0, 0.0, None, None]),  # two series meet where both have values
        ("m2 / m1 * 100", [10.0, 0.0, None, None]),
        ("100*FILL(m2, 0)/m1", [10.0, 0.0, None, 0.0]),
        ("m1 - -m2", [11.0, 20.0, None, None]),
        ("m1 / m2", [10.0, None, None, None]),  # a division by zero is missing
        ("2 ^ 3 ^ 2 + m1 * 0", [512.0, 512.0, None, 512.0]),  # ^ binds to the right
        ("m1 > 15", [0.0, 1.0, None, 1.0]),
        ("m1 > 15 AND m2 == 0", [0.0, 1.0, None, None]),
        ("m1 > 15 || m2 == 1", [1.0, 1.0, None, None]),
        ("NOT (m1 > 15)", [1.0, 0.0, None, 0.0]),
        ("IF(m1 > 15, m1, 0)", [0.0, 20.0, None, 40.0]),
        ("IF(m1 > 15, m1)", [None, 20.0, None, 40.0]),
        ("FILL(m1, REPEAT)", [10.0, 20.0, 20.0, 40.0]),
        ("FILL(m1, LINEAR)", [10.0, 20.0, 30.0, 40.0]),
        ("FILL(m2, REPEAT)", [1.0, 0.0, 0.0, 0.0]),
        ("FILL(m3, 7)", [7.0, 7.0, 7.0, 7.0]),
        ("RUNNING_SUM(m1)", [10.0, 30.0, None, 70.0]),
        ("DIFF(m1)", [None, 10.0, None, 20.0]),
        ("RATE(m1)", [None, 10.0 / 60, None, 20.0 / 120]),
        ("DIFF_TIME(m1)", [None, 60.0, None, 120.0]),
        ("m1 / SUM(m1)", [10 / 70, 20 / 70, None, 40 / 70]),  # SUM of a series is a number
        ("SUM([m1, m2])", [11.0, 20.0, None, 40.0]),  # of an array: per period
        ("MAX(METRICS())", [10.0, 20.0, None, 40.0]),
        ('AVG(METRICS("m2"))', [1.0, 0.0, None, None]),
        ("LAST([m1, m2])", [1.0, 0.0, None, None]),
        ("TIME_SERIES(3)", [3.0, 3.0, 3.0, 3.0]),
        ("ABS(m2 - m1)", [9.0, 20.0, None, None]),
        ("m1 * 0 + PERIOD(m1)", [60.0, 60.0, None, 60.0]),
        ("m1 * 0 + DATAPOINT_COUNT(m1)", [3.0, 3.0, None, 3.0]),
    ],
)
def test_values(expression: str, expected: Series) -> None:
    got = run(expression)
    assert isinstance(got, list)
    assert got == pytest.approx(expected)


def test_scalars_and_arrays() -> None:
    assert run("1 + 2 * 3") == 7.0
    assert run("SUM(m1)") == 70.0
    assert math.isnan(run("SUM(m3)"))  # type: ignore[arg-type]  # no values: none
    assert run("[m1, m2] * 2") == [[20.0, 40.0, None, 80.0], [2.0, 0.0, None, None]]
    assert run("REMOVE_EMPTY(METRICS())") == [SERIES["m1"], SERIES["m2"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("m1", "series"),
        ("3", "scalar"),
        ("SUM(m1)", "scalar"),
        ("SUM([m1, m2])", "series"),
        ("METRICS()", "array"),
        ("m1 * METRICS()", "array"),
        ("IF(m1 > 0, 1, 0)", "series"),
    ],
)
def test_kinds(expression: str, expected: str) -> None:
    assert kind(parse(expression), KINDS) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("m1 +", "column 5: expected a number, an id or a function, found the end"),
        ("m1 $ 2", "column 4: unexpected '$'"),
        ("(m1 + m2", "column 9: expected ')', found the end"),
        ("m1 m2", "column 4: unexpected 'm2' after the expression"),
        ("fill(m1, 0)", "unknown function 'fill' (functions are upper case"),
        ("", "the expression is empty"),
    ],
)
def test_syntax_errors_name_the_column(expression: str, message: str) -> None:
    with pytest.raises(MathError) as info:
        parse(expression)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("m9 / m1", "no query has the Id 'm9'"),
        ("FILL(m1)", "FILL takes 2 argument(s)"),
        ("METRICS() + METRICS()", "between two arrays"),
        ("FIRST(m1)", "FIRST's argument 1 is a series, not a array"),
        ("[m1, 2]", "an array holds time series only"),
        ("METRICS(m1)", "METRICS takes a quoted text"),
    ],
)
def test_kind_errors(expression: str, message: str) -> None:
    with pytest.raises(MathError) as info:
        kind(parse(expression), KINDS)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert not isinstance(info.value, Unsupported)


@pytest.mark.parametrize(
    "expression",
    [
        "SEARCH('{AWS/Lambda,FunctionName} Errors', 'Sum', 60)",
        "ANOMALY_DETECTION_BAND(m1, 2)",
        'SELECT AVG(CPUUtilization) FROM SCHEMA("AWS/EC2", InstanceId)',
    ],
)
def test_functions_canaria_does_not_evaluate_are_unsupported(expression: str) -> None:
    with pytest.raises(Unsupported):
        kind(parse(expression), KINDS)  # type: ignore[arg-type]


def test_references_in_order() -> None:
    assert [r.id for r in references(parse("IF(e1 > 0, m2 / m1, FILL(m3, 0))"))] == [
        "e1",
        "m2",
        "m1",
        "m3",
    ]
