"""``Metadata: canaria: judge`` sets a function's detectable-rate requirement: the rate,
the longest hold past a step and the outcome at the cap; bad values name their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.models import JudgeSettings, Undetectable
from canaria.template import load
from tests.unit.template.template_helpers import fails, line_of, resources, write
from tests.unit.template.test_template_preferences import preference


def meta(judge: str) -> str:
    return f"    Metadata:\n      canaria:\n        judge: {judge}\n"


def test_the_requirement_from_metadata(tmp_path: Path) -> None:
    judge = "{min_detectable: 5%, max_hold: 10m, undetectable: promote}"
    app = load(write(tmp_path, resources(preference("Type: AllAtOnce", metadata=meta(judge)))))
    p = app.functions["Fn"].deployment_preference
    assert p is not None
    assert p.judge == JudgeSettings(
        min_detectable=0.05, max_hold_s=600.0, undetectable=Undetectable.PROMOTE
    )


@pytest.mark.parametrize(
    ("judge", "prop", "allowed"),
    [
        ("{min_detectable: 0%}", "min_detectable", "(0, 100] %"),
        ("{min_detectable: lots}", "min_detectable", "(0, 100] %"),
        ("{max_hold: forever}", "max_hold", "'10m'"),
        ("{undetectable: shrug}", "undetectable", "fail, promote"),
    ],
)
def test_a_bad_requirement_names_its_line(
    tmp_path: Path, judge: str, prop: str, allowed: str
) -> None:
    path = write(tmp_path, resources(preference("Type: AllAtOnce", metadata=meta(judge))))
    err = fails(path)
    assert err.prop == f"Resources.Fn.Metadata.canaria.judge.{prop}"
    assert err.allowed is not None and allowed in err.allowed
    assert err.line == line_of(path, judge)
