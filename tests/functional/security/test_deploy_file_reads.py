"""The deploy API reads only regular template files under the directories canaria was
started for, bounded in size, without blocking the server, and its errors never echo
what a file holds. Before, it read any file the server could (and echoed it), a FIFO
froze both ports and ``/dev/zero`` filled the memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from canaria.cli.client import ApiError, Client
from tests.functional.harness import Canaria, copy_example

SECRET = "root:$6$not-a-real-hash-but-secret:19000:0:99999:7:::"


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("files")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state").start()
    yield c
    c.stop()


def refused(c: Canaria, template: str) -> str:
    client = Client(f"http://127.0.0.1:{c.control_port}", c.token())
    with pytest.raises(ApiError) as caught:
        client.call("POST", "/deployments", {"template": template}, timeout=30)
    assert caught.value.status == 400, caught.value
    return caught.value.message


def test_a_file_outside_the_project_is_not_read(hello: Canaria, tmp_path: Path) -> None:
    outside = tmp_path / "shadow"
    outside.write_text(SECRET + "\nfoo: [bar\n")
    message = refused(hello, str(outside))
    assert "outside the directories" in message and "CANARIA_ALLOWED_DIRS" in message
    assert "not-a-real-hash" not in message
    # nor through a symbolic link inside the project
    link = hello.template.parent / "link.yaml"
    link.symlink_to(outside)
    try:
        assert "outside the directories" in refused(hello, str(link))
    finally:
        link.unlink()


def test_special_files_are_refused_without_blocking(hello: Canaria) -> None:
    fifo = hello.template.parent / "fifo.yaml"
    os.mkfifo(fifo)
    try:
        assert "not a regular file" in refused(hello, str(fifo))
    finally:
        fifo.unlink()
    # the server still answers on both ports
    assert hello.http("GET", "/hello")[0] == 200
    assert hello.status()["functions"]


def test_a_template_larger_than_a_megabyte_is_refused(hello: Canaria) -> None:
    big = hello.template.parent / "big.yaml"
    big.write_bytes(b"# " + b"x" * 1_100_000 + b"\n")
    try:
        assert "at most 1000000" in refused(hello, str(big))
    finally:
        big.unlink()


def test_a_device_is_refused(hello: Canaria, tmp_path: Path) -> None:
    assert "outside the directories" in refused(hello, "/dev/zero")


def test_the_allow_list_opens_another_directory(tmp_path: Path) -> None:
    app = copy_example("hello", tmp_path)
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "template.yaml").write_text((app / "template.yaml").read_text())
    (other / "src").symlink_to(app / "src")
    (other / "hooks").symlink_to(app / "hooks")
    c = Canaria(app / "template.yaml", tmp_path / "state")
    c.env["CANARIA_ALLOWED_DIRS"] = str(other)
    c.start()
    try:
        r = c.cli("deploy", "-t", str(other / "template.yaml"), "--dry-run", "--json")
        assert r.returncode == 0, r.stderr
    finally:
        c.stop()
