"""The runtime's pure parts: code digest, artifact cache, environment, log lines, JSON."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import os
import re
import uuid
from pathlib import Path

import orjson
import pytest

from canaria.errors import BuildError
from canaria.files import FileAccess
from canaria.models import FunctionConfig, Version
from canaria.runtime import build_artifact, code_digest
from canaria.runtime.environment import (
    exit_message,
    iso_timestamp,
    report_line,
    request_ids,
    timeout_message,
    worker_environment,
)
from canaria.runtime.function import PEAK_WINDOW_S, PEAK_WINDOWS, Peaks
from canaria.runtime.worker import (
    HEADER,
    LAYERS_VARIABLE,
    encode_frame,
    error_shape,
    load_handler,
    to_json,
)


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_digest_is_stable_and_ignores_caches(tmp_path: Path) -> None:
    a = write(tmp_path / "a", {"app.py": "x = 1\n", "pkg/mod.py": "y = 2\n"})
    b = write(tmp_path / "b", {"pkg/mod.py": "y = 2\n", "app.py": "x = 1\n"})
    write(b, {"__pycache__/app.cpython-311.pyc": "junk", "pkg/old.pyc": "junk", ".git/HEAD": "x"})
    assert code_digest(str(a)) == code_digest(str(b))
    assert re.fullmatch(r"[0-9a-f]{64}", code_digest(str(a)))


def test_digest_changes_with_content_and_with_paths(tmp_path: Path) -> None:
    base = code_digest(str(write(tmp_path / "a", {"app.py": "x = 1\n"})))
    assert code_digest(str(write(tmp_path / "b", {"app.py": "x = 2\n"}))) != base
    assert code_digest(str(write(tmp_path / "c", {"main.py": "x = 1\n"}))) != base
    # a byte moved from one file's content to the next file's name is a different tree
    d = code_digest(str(write(tmp_path / "d", {"a": "bc", "d": ""})))
    e = code_digest(str(write(tmp_path / "e", {"a": "b", "cd": ""})))
    assert d != e


def test_artifact_is_a_copy_and_is_reused(tmp_path: Path) -> None:
    code = write(tmp_path / "code", {"app.py": "x = 1\n", "__pycache__/a.pyc": "junk"})
    digest, artifact = build_artifact(str(code), str(tmp_path / "state"))
    assert artifact == str((tmp_path / "state" / "artifacts" / digest).resolve())
    assert (Path(artifact) / "app.py").read_text() == "x = 1\n"
    assert not (Path(artifact) / "__pycache__").exists()
    marker = Path(artifact) / "marker"
    marker.write_text("kept")
    assert build_artifact(str(code), str(tmp_path / "state")) == (digest, artifact)
    assert marker.exists()  # reused, not rebuilt
    assert sorted(p.name for p in (tmp_path / "state" / "artifacts").iterdir()) == [digest]


def test_a_code_uri_naming_one_file_is_that_file_alone(tmp_path: Path) -> None:
    """``CodeUri: src/function.py``, as ``sam package`` zips a lone file: the artifact holds
    that file at its top and nothing else of its folder."""
    code = write(tmp_path / "src", {"function.py": "x = 1\n", "other.py": "y = 2\n"})
    digest, artifact = build_artifact(str(code / "function.py"), str(tmp_path / "state"))
    assert sorted(p.name for p in Path(artifact).iterdir()) == ["function.py"]
    (code / "other.py").write_text("y = 3\n")  # not part of the code
    assert build_artifact(str(code / "function.py"), str(tmp_path / "state"))[0] == digest
    (code / "function.py").write_text("x = 2\n")
    assert build_artifact(str(code / "function.py"), str(tmp_path / "state"))[0] != digest


def test_missing_code_uri_is_a_build_error(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="does not exist"):
        build_artifact(str(tmp_path / "nowhere"), str(tmp_path / "state"))


def test_links_are_followed_only_where_canaria_may_read(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    code = write(project / "src", {"app.py": "x = 1\n", "shared/util.py": "y = 2\n"})
    write(elsewhere, {"secret.txt": "s\n"})
    (code / "util.py").symlink_to(code / "shared" / "util.py")
    confine = FileAccess([project]).refusal
    _, artifact = build_artifact(str(code), str(tmp_path / "state"), confine=confine)
    assert (Path(artifact) / "util.py").read_text() == "y = 2\n"  # a copy of the target
    (code / "secret.txt").symlink_to(elsewhere / "secret.txt")
    with pytest.raises(BuildError, match=r"secret\.txt links to .*elsewhere.* outside"):
        build_artifact(str(code), str(tmp_path / "state"), confine=confine)
    (code / "secret.txt").unlink()
    (code / "gone.txt").symlink_to(project / "missing")
    with pytest.raises(BuildError, match=r"gone\.txt is a symbolic link to nothing"):
        build_artifact(str(code), str(tmp_path / "state"), confine=confine)
    (code / "gone.txt").unlink()
    with pytest.raises(BuildError, match="outside the directories"):
        build_artifact(str(elsewhere), str(tmp_path / "state"), confine=confine)


def test_special_files_are_not_code(tmp_path: Path) -> None:
    code = write(tmp_path / "src", {"app.py": "x = 1\n"})
    before = code_digest(str(code))
    os.mkfifo(code / "pipe")  # reading it would block
    assert code_digest(str(code)) == before
    _, artifact = build_artifact(str(code), str(tmp_path / "state"))
    assert sorted(p.name for p in Path(artifact).iterdir()) == ["app.py"]


def version(tmp_path: Path, **env: str) -> Version:
    config = FunctionConfig(
        handler="pkg/mod.handler",
        runtime="python3.12",
        code_uri=str(tmp_path),
        environment=env,
        memory_mb=256,
    )
    return Version("Orders", 7, "d" * 64, config, str(tmp_path / "artifact"), 0.0)


def test_environment_is_built_from_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARIA_PRIVATE_TEST_VAR", "secret")
    env = worker_environment(
        "Orders",
        version(tmp_path, TABLE="companies", AWS_REGION="eu-west-1"),
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:3001", "TABLE": "overridden"},
        log_stream="2024/01/01/[7]abc",
    )
    assert "CANARIA_PRIVATE_TEST_VAR" not in env
    assert env["TZ"] == ":UTC"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path / "artifact")
    assert env["_HANDLER"] == "pkg/mod.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "Orders"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "7"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/Orders"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"] == "2024/01/01/[7]abc"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:3001"
    assert env["TABLE"] == "companies"  # the template wins over canaria's extras
    assert env["AWS_REGION"] == "eu-west-1"
    assert all(isinstance(v, str) for v in env.values())


def test_request_ids_look_like_lambdas() -> None:
    rid, trace = request_ids(1_700_000_000.5)
    assert uuid.UUID(rid).version == 4 and str(uuid.UUID(rid)) == rid
    assert re.fullmatch(r"Root=1-6553f100-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", trace)
    assert request_ids(1.0) != request_ids(1.0)


def test_platform_lines() -> None:
    line = report_line("rid", duration_ms=1.234, memory_mb=128, max_memory_mb=40, init_ms=81.5)
    assert line.split("\t") == [
        "REPORT RequestId: rid",
        "Duration: 1.23 ms",
        "Billed Duration: 2 ms",
        "Memory Size: 128 MB",
        "Max Memory Used: 40 MB",
        "Init Duration: 81.50 ms",
    ]
    timed_out = report_line(
        "rid",
        duration_ms=3000.0,
        memory_mb=128,
        max_memory_mb=40,
        init_ms=None,
        status="timeout",
    )
    assert timed_out.endswith(
        "Billed Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 40 MB\tStatus: timeout"
    )
    assert iso_timestamp(1_700_000_000.25) == "2023-11-14T22:13:20.250Z"
    assert timeout_message("rid", 1_700_000_000.25, 3) == (
        "2023-11-14T22:13:20.250Z rid Task timed out after 3.00 seconds"
    )
    assert (
        exit_message("rid", 3) == "RequestId: rid Error: Runtime exited with error: exit status 3"
    )
    assert exit_message("rid", -11).endswith("signal: segmentation fault")
    assert exit_message("rid", -9).endswith("signal: killed")


def test_frames_are_length_prefixed_orjson() -> None:
    frame = encode_frame({"t": "r", "k": "ok"}, b"[1]")
    hlen, blen = HEADER.unpack_from(frame)
    assert orjson.loads(frame[HEADER.size : HEADER.size + hlen]) == {"t": "r", "k": "ok"}
    assert frame[HEADER.size + hlen :] == b"[1]" and blen == 3


def test_results_serialise_as_lambdas_json_does() -> None:
    assert orjson.loads(to_json({"n": decimal.Decimal("1.5"), 1: [None, True]})) == {
        "n": 1.5,
        "1": [None, True],
    }
    assert to_json(2**70) == b"1180591620717411303424"  # beyond orjson, json copes
    with pytest.raises(TypeError, match="Object of type datetime is not JSON serializable"):
        to_json({"at": datetime.datetime(2024, 1, 1)})
    with pytest.raises(TypeError, match="not JSON serializable"):
        to_json(object())


def test_handler_errors_have_lambdas_shape(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"canaria_ut_mod.py": "def handler(e, c):\n    return 1\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    handler, error = load_handler("canaria_ut_mod.handler")
    assert error is None and handler is not None and handler({}, None) == 1  # type: ignore[arg-type]
    assert load_handler("canaria_ut_mod.missing")[1] == error_shape(
        "Handler 'missing' missing on module 'canaria_ut_mod'", "Runtime.HandlerNotFound", "", []
    )
    _, error = load_handler("canaria_ut_absent.handler")
    assert error is not None and error["errorType"] == "Runtime.ImportModuleError"
    assert error["errorMessage"] == (
        "Unable to import module 'canaria_ut_absent': No module named 'canaria_ut_absent'"
    )
    assert load_handler("nodot")[1]["errorType"] == "Runtime.MalformedHandlerName"  # type: ignore[index]


def test_the_recent_peak_of_requests_in_flight_lasts_a_minute() -> None:
    peaks = Peaks(start=0.0)
    for running in (1, 5, 2):
        peaks.note(1, running)
    peaks.advance(PEAK_WINDOW_S * 0.5, {1: 2})
    assert peaks.recent(1) == 5 and peaks.recent(2) == 0
    peaks.advance(PEAK_WINDOW_S * 1.5, {1: 2})  # the window with 5 is now a past one
    assert peaks.recent(1) == 5
    peaks.advance(PEAK_WINDOW_S * (PEAK_WINDOWS + 0.5), {1: 1})
    assert peaks.recent(1) == 2  # the window that began with 2 running is still recent
    peaks.advance(PEAK_WINDOW_S * (2 * PEAK_WINDOWS + 1), {})
    assert peaks.recent(1) == 0


def test_layers_are_searched_as_lambda_searches_opt(tmp_path: Path) -> None:
    """Each place in turn, the last layer first (in /opt its files replaced the earlier
    layers'), only where a layer has it: no empty entry (the working directory) on PATH."""
    first, second = tmp_path / "first", tmp_path / "second"
    for rel in ("python", "python/lib/python3.12/site-packages", "bin"):
        (first / rel).mkdir(parents=True, exist_ok=True)
    (second / "python").mkdir(parents=True)
    plain = worker_environment("Orders", version(tmp_path), {}, log_stream="s")
    v = version(tmp_path)
    layered = Version(
        v.function,
        v.number,
        v.digest,
        dataclasses.replace(v.config, layers=(str(first), str(second))),
        v.artifact,
        0.0,
    )
    env = worker_environment("Orders", layered, {}, log_stream="s")
    assert env[LAYERS_VARIABLE].split(os.pathsep) == [
        str(first / "python/lib/python3.12/site-packages"),
        str(second / "python"),
        str(first / "python"),
    ]
    assert env["PATH"] == plain["PATH"] + os.pathsep + str(first / "bin")
    assert "LD_LIBRARY_PATH" not in env  # no layer has lib/
    assert LAYERS_VARIABLE not in plain
