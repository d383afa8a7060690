"""``AWS::Lambda::Url`` resources: read as their function's ``FunctionUrlConfig``."""

from __future__ import annotations

from pathlib import Path

from canaria.models import CorsSpec, FunctionUrlSpec
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, resources, write


def url(target: str, extra: str = "") -> str:
    props = f"TargetFunctionArn: {target}, AuthType: AWS_IAM{extra}"
    return f"  Url:\n    Type: AWS::Lambda::Url\n    Properties: {{{props}}}\n"


def test_a_url_resource_serves_its_function(tmp_path: Path) -> None:
    for target in ("!Ref Fn", "!GetAtt Fn.Arn", "!Ref Fn.Alias"):
        extra = ", InvokeMode: RESPONSE_STREAM, Cors: {AllowOrigins: ['*']}"
        fn = function("Fn", "AutoPublishAlias: live\n")
        app = load(write(tmp_path, resources(fn, url(target, extra))))
        assert app.functions["Fn"].url == FunctionUrlSpec(
            "AWS_IAM", "RESPONSE_STREAM", CorsSpec(("*",))
        ), target
        assert not [s for s in app.skipped if s.logical_id == "Url"]
        assert not [w for w in app.warnings if "RESPONSE_STREAM" in w]  # it streams


def test_a_second_url_and_a_url_of_no_function_are_warnings(tmp_path: Path) -> None:
    fn = function("Fn", "FunctionUrlConfig: {AuthType: NONE}\n")
    app = load(write(tmp_path, resources(fn, url("!Ref Fn"))))
    assert app.functions["Fn"].url == FunctionUrlSpec("NONE")
    assert any("Fn already has a URL" in w for w in app.warnings)
    elsewhere = url("arn:aws:lambda:us-east-1:123456789012:function:elsewhere")
    app = load(write(tmp_path, resources(function("Fn"), elsewhere)))
    assert app.functions["Fn"].url is None
    assert any("elsewhere is not a function of this template" in w for w in app.warnings)


def test_a_url_resource_is_checked(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function("Fn"), url("!Ref Fn", ", Mode: x"))))
    assert "Mode" in err.message
    err = fails(write(tmp_path, resources(function("Fn"), url("!Ref Fn", ", InvokeMode: FAST"))))
    assert "InvokeMode 'FAST'" in err.message
