"""Real `canaria up` processes on loopback for functional tests."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config

from canaria.auth import access_key_id, secret_access_key
from canaria.cli.client import ApiError, Client
from canaria.models import InvokeResult

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def alive(pid: int) -> bool:
    """Whether `pid` names a running process. A zombie is dead too; a process
    reaped between two reads of /proc counts as gone, whichever read notices."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def report_max_memory_mb(result: InvokeResult) -> int:
    """The ``Max Memory Used`` of an invocation's REPORT line."""
    (report,) = [line for line in result.logs.splitlines() if line.startswith("REPORT ")]
    return int(re.search(r"Max Memory Used: (\d+) MB", report).group(1))  # type: ignore[union-attr]


def lift_own_peak_rss(mb: int = 300) -> None:
    """Raise this process's peak RSS (``ru_maxrss``) past ``mb``: environments started
    after it inherit that peak, above their own, as they do from a canaria that has grown
    (a long test run's process has too, so tests must hold with it)."""
    ballast = b"x" * (mb * 1024 * 1024)
    del ballast


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_app(root: Path, files: dict[str, str]) -> Path:
    """An application of ``files`` (path under ``root`` → text) in ``root``; its
    ``template.yaml``."""
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "template.yaml"


def copy_example(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(EXAMPLES / name, target)
    return target


HOOK_STATES = ("BeforeAllowTraffic", "AfterAllowTraffic")
HOOK_STEP_S = 0.5  # virtual seconds per look while a hook runs: its hour lasts minutes


class Canaria:
    """One `canaria up` child process, its state directory and a CLI runner."""

    def __init__(
        self,
        template: Path,
        state: Path,
        *,
        clock: str = "manual",
        time_scale: float = 1.0,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.template = template
        self.state = state
        self.clock = clock
        self.time_scale = time_scale
        self.extra = extra
        # Both ports are bound by the server (port 0) and read back once it serves.
        self.port = 0
        self.control_port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = dict(os.environ, CANARIA_STATE=str(state), PYTHONUNBUFFERED="1")
        self.env.pop("CANARIA_ENDPOINT", None)
        self.log = state.parent / f"canaria-{state.name}.log"

    # ---- process ---------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> Canaria:
        args = [
            sys.executable,
            "-m",
            "canaria.cli.main",
            "up",
            "-t",
            str(self.template),
            "--port",
            "0",
            "--control-port",
            "0",
            "--clock",
            self.clock,
            *self.extra,
        ]
        if self.clock == "real":
            args += ["--time-scale", str(self.time_scale)]
        endpoint = self.state / "endpoint"  # written by `up` once it serves
        endpoint.unlink(missing_ok=True)
        self.env.pop("CANARIA_ENDPOINT", None)
        logf = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(args, env=self.env, stdout=logf, stderr=subprocess.STDOUT)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                text = endpoint.read_text() if endpoint.exists() else ""
                if text.endswith("\n"):  # written whole
                    url = text.strip()
                    self.control_port = int(url.rsplit(":", 1)[1])
                    gateway = self.api().get("/status")["gateway"]
                    self.port = int(gateway.rsplit(":", 1)[1])
                    self.env["CANARIA_ENDPOINT"] = url
                    return self
            except (ApiError, OSError, ValueError):  # not serving yet, or a partial write
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"canaria up exited {self.proc.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                self.kill()  # a failed start must not leave the server behind
                raise RuntimeError(f"canaria up did not answer:\n{self.output()}")
            time.sleep(0.1)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self) -> None:
        assert self.proc is not None
        # SIGKILL the server and every worker it started (its process group is ours, so
        # find children by parent pid instead).
        children = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.split()
        self.proc.kill()
        self.proc.wait()
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)

    # ---- clients ---------------------------------------------------------------------

    def api(self) -> Client:
        return Client(f"http://127.0.0.1:{self.control_port}", self.token())

    def aws(self, service: str) -> Any:
        """A boto3 client for ``service`` against this canaria's edge, signed with its
        token's keys, as a function's SDK would be."""
        return boto3.client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.control_port}",
            region_name="us-east-1",
            aws_access_key_id=access_key_id(self.token()),
            aws_secret_access_key=secret_access_key(self.token()),
            config=Config(inject_host_prefix=False),
        )

    def env_client(self, service: str, variable: str, *, signed: bool = True) -> Any:
        """A boto3 client for ``service`` at the endpoint ``canaria env`` exports as
        ``variable`` (``AWS_ENDPOINT_URL_SQS``, ...), with its credentials: what a user's
        shell gets from ``eval "$(canaria env)"``; ``signed=False``: none, as a browser
        app calls Cognito's public operations."""
        env = json.loads(self.cli("env", "--json").stdout)
        if not signed:
            return boto3.client(
                service,
                endpoint_url=env[variable],
                region_name="us-east-1",
                config=Config(signature_version=UNSIGNED),
            )
        return boto3.client(
            service,
            endpoint_url=env[variable],
            region_name="us-east-1",
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def token(self) -> str:
        return (self.state / "token").read_text().strip()

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "canaria.cli.main", *args],
            env=self.env,
            text=True,
            capture_output=True,
            timeout=timeout,
        )

    def advance(self, seconds: float) -> float:
        now = self.api().post("/clock", {"advance": seconds})["now"]
        return float(now)

    def http(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def status(self) -> Any:
        return self.api().get("/status")

    def alias(self, fn: str, name: str = "live") -> dict[str, Any]:
        for a in self.status()["functions"][fn]["aliases"]:
            if a["name"] == name:
                return a  # type: ignore[no-any-return]
        raise KeyError(name)

    def wait_deployment(
        self, deployment_id: str, *, step: float = 5.0, limit: float = 3600.0
    ) -> dict[str, Any]:
        """Advance the manual clock until the deployment completes. While a hook runs the
        clock moves by ``HOOK_STEP_S`` at a time: the hook's own work takes wall time (a
        Node.js hook's cold start on a loaded machine, seconds), and moving the clock at
        full speed meanwhile would run out its one-hour timeout first."""
        moved = 0.0
        while True:
            d = self.api().get(f"/deployments/{deployment_id}")
            if d["completed"]:
                return d  # type: ignore[no-any-return]
            if moved >= limit:
                raise AssertionError(f"deployment did not complete: {json.dumps(d)[:2000]}")
            if self.clock == "manual":
                by = min(step, HOOK_STEP_S) if d["state"] in HOOK_STATES else step
                self.advance(by)
                moved += by
            time.sleep(0.05)

    def serve_canary(
        self, deployment_id: str, failed: Callable[[], bool], *, limit_s: int = 600
    ) -> tuple[dict[str, Any], int]:
        """One request (``failed``: whether it failed) per virtual second while the
        deployment sends traffic to its canary, until it completes: the deployment, and
        how many of the requests failed."""
        failures = 0
        for _ in range(limit_s):
            d = self.api().get(f"/deployments/{deployment_id}")
            if d["completed"]:
                return d, failures
            if d["state"] == "AllowTraffic":
                failures += failed()
            self.advance(1)
        raise AssertionError(f"deployment did not complete: {json.dumps(d)[:2000]}")


T = TypeVar("T")


def wait_until(
    read: Callable[[], T], done: Callable[[T], bool], what: str, deadline_s: float = 60.0
) -> T:
    """``read()`` again until ``done`` holds for its value; that value. (An event, not a
    duration: the deadline is only how long to wait before calling the test failed.)"""
    end = time.monotonic() + deadline_s
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what}: still {value!r} after {deadline_s} s")
        time.sleep(0.1)


def eventually(check: Callable[[], Any], what: str, deadline_s: float = 60.0) -> Any:
    """Wait for ``check`` to return a true value; that value."""
    return wait_until(check, bool, what, deadline_s)
