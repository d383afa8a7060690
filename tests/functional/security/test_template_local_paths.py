"""A template deployed through the control API cannot make canaria read or copy files
outside the directories it was started for: a ``CodeUri`` or ``DefinitionUri`` that
resolves elsewhere (``/etc``, ``../../..``), a symbolic link inside the code that leads
out, or a ``Handler`` whose module lies outside the code is refused with an error naming
the resource, the property and the path, and nothing is built or changed. Before, only
the template's own path was confined: ``CodeUri: <anywhere>`` was digested and copied into
an artifact, and a FIFO in the code directory blocked the release forever."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.cli.client import ApiError, Client
from tests.functional.harness import Canaria, copy_example

SECRET = "not-a-real-secret-7f3a9c"


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("paths")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state").start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory canaria was not started for, holding code and a secret."""
    d = tmp_path_factory.mktemp("outside")
    (d / "app.py").write_text(f"SECRET = {SECRET!r}\ndef handler(event, context):\n    return 1\n")
    (d / "flow.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}')
    (d / "secret.txt").write_text(SECRET + "\n")
    return d


def variant(c: Canaria, name: str, old: str, new: str) -> Path:
    """A copy of the running template inside the project, with ``old`` replaced."""
    text = c.template.read_text()
    assert old in text
    path = c.template.parent / name
    path.write_text(text.replace(old, new))
    return path


def refused(c: Canaria, template: Path, dry_run: bool = False) -> str:
    client = Client(f"http://127.0.0.1:{c.control_port}", c.token())
    before = client.get("/status")
    with pytest.raises(ApiError) as caught:
        client.call(
            "POST", "/deployments", {"template": str(template), "dry_run": dry_run}, timeout=30
        )
    assert caught.value.status == 400, caught.value
    message = caught.value.message
    assert SECRET not in message
    # nothing changed: the same versions and aliases, and no artifact holds the secret
    assert client.get("/status")["functions"] == before["functions"]
    for path in (c.state / "artifacts").rglob("*"):
        if path.is_file() and not path.is_symlink() and path.stat().st_size < 1_000_000:
            assert SECRET.encode() not in path.read_bytes(), path
    return message


CODE_URI = "CodeUri: !Sub src/${AppVersion}"


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_code_uri_outside_the_project_is_refused(
    hello: Canaria, outside: Path, dry_run: bool
) -> None:
    template = variant(hello, "abs.yaml", CODE_URI, f"CodeUri: {outside}")
    message = refused(hello, template, dry_run)
    assert "Resources.HelloFunction.Properties.CodeUri" in message, message
    assert str(outside) in message and "outside the directories canaria may read" in message
    assert "CANARIA_ALLOWED_DIRS" in message


def test_a_relative_code_uri_that_climbs_out_is_refused(hello: Canaria) -> None:
    template = variant(hello, "climb.yaml", CODE_URI, "CodeUri: ../../../../../../..")
    message = refused(hello, template)
    assert "Resources.HelloFunction.Properties.CodeUri" in message, message
    assert "'../../../../../../..' (/)" in message and "outside the directories" in message


def test_etc_is_refused_without_saying_what_is_there(hello: Canaria) -> None:
    present = refused(hello, variant(hello, "etc.yaml", CODE_URI, "CodeUri: /etc"))
    absent = refused(hello, variant(hello, "no.yaml", CODE_URI, "CodeUri: /no-such-dir-x"))
    assert "outside the directories" in present and "outside the directories" in absent
    assert "does not exist" not in absent  # the rule comes first: no probing for paths


def test_a_state_machine_definition_outside_the_project_is_refused(
    hello: Canaria, outside: Path
) -> None:
    machine = (
        "  Flow:\n"
        "    Type: AWS::Serverless::StateMachine\n"
        "    Properties:\n"
        f"      DefinitionUri: {outside / 'flow.json'}\n"
        "\n"
        "  HelloErrorsAlarm:\n"
    )
    template = variant(hello, "sm.yaml", "  HelloErrorsAlarm:\n", machine)
    message = refused(hello, template)
    assert "Resources.Flow.Properties.DefinitionUri" in message, message
    assert "outside the directories" in message


def test_a_link_inside_the_code_that_leads_out_is_refused(hello: Canaria, outside: Path) -> None:
    code = hello.template.parent / "src" / "linked"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (code / "config.txt").symlink_to(outside / "secret.txt")
    try:
        template = variant(hello, "link.yaml", CODE_URI, "CodeUri: src/linked")
        message = refused(hello, template)
        assert "HelloFunction" in message and "config.txt" in message, message
        assert str(outside / "secret.txt") in message and "outside the directories" in message
    finally:
        (code / "config.txt").unlink()
        (code / "app.py").unlink()
        code.rmdir()


def test_a_handler_outside_the_code_is_refused(hello: Canaria) -> None:
    template = variant(
        hello, "handler.yaml", "Handler: app.handler", "Handler: ../../../../tmp/x/app.handler"
    )
    message = refused(hello, template)
    assert "Resources.HelloFunction.Properties.Handler" in message, message
    assert "outside CodeUri" in message


def test_a_fifo_in_the_code_is_left_out_without_blocking(hello: Canaria) -> None:
    code = hello.template.parent / "src" / "piped"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    os.mkfifo(code / "pipe")
    try:
        template = variant(hello, "fifo.yaml", CODE_URI, "CodeUri: src/piped")
        r = hello.cli("deploy", "-t", str(template), "--dry-run", "--json", timeout=60)
        assert r.returncode == 0, r.stderr
        assert hello.http("GET", "/hello")[0] == 200
    finally:
        (code / "pipe").unlink()
        (code / "app.py").unlink()
        code.rmdir()


def test_links_within_the_allowed_directories_still_build(hello: Canaria) -> None:
    """A monorepo's shared code linked into a function's directory keeps working."""
    code = hello.template.parent / "src" / "shared"
    code.mkdir()
    (code / "app.py").symlink_to(hello.template.parent / "src" / "v2" / "app.py")
    try:
        template = variant(hello, "shared.yaml", CODE_URI, "CodeUri: src/shared")
        r = hello.cli("deploy", "-t", str(template), "--dry-run", "--json", timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        (code / "app.py").unlink()
        code.rmdir()


def test_the_allow_list_opens_a_code_directory(tmp_path: Path, outside: Path) -> None:
    app = copy_example("hello", tmp_path)
    c = Canaria(app / "template.yaml", tmp_path / "state")
    c.env["CANARIA_ALLOWED_DIRS"] = str(outside)
    c.start()
    try:
        template = variant(c, "allowed.yaml", CODE_URI, f"CodeUri: {outside}")
        r = c.cli("deploy", "-t", str(template), "--dry-run", "--json", timeout=60)
        assert r.returncode == 0, r.stderr
    finally:
        c.stop()


def test_up_applies_the_same_rule_to_its_own_template(tmp_path: Path, outside: Path) -> None:
    app = copy_example("hello", tmp_path)
    text = (app / "template.yaml").read_text()
    (app / "template.yaml").write_text(text.replace(CODE_URI, f"CodeUri: {outside}"))
    c = Canaria(app / "template.yaml", tmp_path / "state")
    with pytest.raises(RuntimeError, match="canaria up exited") as caught:
        c.start()
    assert "Resources.HelloFunction.Properties.CodeUri" in str(caught.value)
    assert "CANARIA_ALLOWED_DIRS" in str(caught.value)
