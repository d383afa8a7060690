"""The hello example loads into exactly what the platform and the controller expect."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from canaria.controller.deployer import PLACEHOLDER
from canaria.models import RouteSpec
from canaria.models.configs import steps_for
from canaria.template import load
from tests.unit.template.template_helpers import fails, line_of

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello"


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    shutil.copytree(HELLO, tmp_path / "hello")
    return tmp_path / "hello" / "template.yaml"


def test_hello_loads(hello: Path) -> None:
    app = load(str(hello))
    assert app.template_path == str(hello)
    assert app.parameters == {"AppVersion": "v1", "DeploymentType": "Canary10Percent5Minutes"}
    fn = app.functions["HelloFunction"]
    assert fn.config.code_uri == str(hello.parent / "src" / "v1")
    assert fn.config.timeout_s == 5.0 and fn.config.environment == {"GREETING": "hello"}
    assert fn.auto_publish_alias == "live"
    assert fn.routes == (
        RouteSpec("GET", "/hello", "http", "ServerlessHttpApi", "$default", "HelloFunction"),
    )
    p = fn.deployment_preference
    assert p is not None and p.alarms == ("HelloErrorsAlarm",)
    assert p.pre_traffic_hook == "PreTrafficHook" and p.post_traffic_hook is None
    assert len(steps_for(p.type, app.deployment_configs)) == 2
    hook = app.functions["PreTrafficHook"]
    assert hook.config.timeout_s == 30.0
    new_version = hook.config.environment["NewVersion"]
    assert new_version.startswith("arn:aws:lambda:us-east-1:123456789012:function:HelloFunction:")
    assert PLACEHOLDER.findall(new_version) == ["HelloFunction"]
    alarm = app.alarms["HelloErrorsAlarm"]
    assert alarm.dimensions == {"FunctionName": "HelloFunction", "Resource": "HelloFunction:live"}
    assert alarm.threshold == 5.0 and alarm.treat_missing_data == "notBreaching"
    assert app.warnings == () and app.skipped == ()


def test_hello_overrides(hello: Path) -> None:
    app = load(str(hello), {"AppVersion": "v2", "DeploymentType": "AllAtOnce"})
    assert app.functions["HelloFunction"].config.code_uri.endswith("/src/v2")
    err = fails(str(hello), overrides={"AppVersion": "v9"})
    assert "AppVersion" in str(err) and err.allowed == "v1, v2, v3"


def test_hello_bad_timeout_names_globals_line(hello: Path) -> None:
    bad = hello.parent / "bad.yaml"
    bad.write_text(hello.read_text().replace("Timeout: 5", "Timeout: 5000"))
    err = fails(str(bad))
    assert err.prop == "Globals.Function.Timeout" and err.line == line_of(str(bad), "Timeout: 5000")
    assert "bad.yaml" in str(err) and "Timeout" in str(err)


def test_public_api_is_what_all_says() -> None:
    import canaria.template as template

    assert template.__all__ == ["load", "parse_parameter_overrides"]
    assert all(callable(getattr(template, name)) for name in template.__all__)
