"""`canaria demo` (and `make demo`): the hello application through a good and a bad
release, in about a minute.

The application ships inside the package (``canaria/examples/hello``), so an installed
wheel runs the demo too. It copies it into a fresh state directory, starts `canaria up`
there (time 60x faster), sends steady
traffic to GET /hello, deploys v2 (shifts to 100 %), deploys v3 (fails a third of its
requests; the judge or the alarm rolls it back), and prints what happened.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

TIME_SCALE = 60
RATE = 40  # requests per second


class Traffic(threading.Thread):
    """Steady GET /hello on one keep-alive connection; counts answers by status."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.statuses: Counter[int] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                conn.request("GET", "/hello")
                resp = conn.getresponse()
                resp.read()
                self.statuses[resp.status] += 1
            except (OSError, http.client.HTTPException):
                self.statuses[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            time.sleep(max(0.0, 1 / RATE - (time.monotonic() - started)))
        conn.close()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "canaria.cli.main", *args]
    print(f"\n$ canaria {' '.join(args)}", flush=True)
    proc = subprocess.run(cmd, env=env, text=True, capture_output=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    return proc


def get_json(env: dict[str, str], *args: str) -> Any:
    cmd = [sys.executable, "-m", "canaria.cli.main", *args, "--json"]
    return json.loads(
        subprocess.run(cmd, env=env, text=True, capture_output=True, check=True).stdout
    )


def per_version(env: dict[str, str], control: int, function: str) -> dict[str, tuple[int, int]]:
    """Invocations and errors per version of ``function``, from canaria's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    token = (Path(env["CANARIA_STATE"]) / "token").read_text().strip()
    conn = http.client.HTTPConnection("127.0.0.1", control, timeout=10)
    conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
    text = conn.getresponse().read().decode()
    conn.close()
    counts: dict[str, list[int]] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in ("canaria_invocations", "canaria_errors"):
            continue
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels.get("function") == function:
                slot = counts.setdefault(sample.labels["version"], [0, 0])
                slot[family.name == "canaria_errors"] += int(sample.value)
    return {v: (n[0], n[1]) for v, n in sorted(counts.items())}


def copy_application(dest: Path) -> Path:
    """Copy the demo's application out of the package; returns its template's path."""
    with resources.as_file(resources.files("canaria") / "examples" / "hello") as shipped:
        target = dest / "hello"
        shutil.copytree(shipped, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target / "template.yaml"


def main() -> int:
    started = time.monotonic()
    state = tempfile.mkdtemp(prefix="canaria-demo-")
    template = copy_application(Path(state))
    env = dict(os.environ, CANARIA_STATE=state, PYTHONUNBUFFERED="1")
    env.pop("CANARIA_ENDPOINT", None)  # the CLI reads the one `up` writes into the state
    print(f"canaria demo — state in {state}")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "canaria.cli.main",
            "up",
            "-t",
            str(template),
            "--time-scale",
            str(TIME_SCALE),
            "--port",  # both bound by the server, read back from its status
            "0",
            "--control-port",
            "0",
        ],
        env=env,
    )
    traffic: Traffic | None = None
    try:
        deadline = time.monotonic() + 60
        endpoint = Path(state) / "endpoint"  # `up` writes it once it serves
        while True:
            if endpoint.exists() and endpoint.read_text().endswith("\n"):
                answer = subprocess.run(
                    [sys.executable, "-m", "canaria.cli.main", "status", "--json"],
                    env=env,
                    capture_output=True,
                )
                if answer.returncode == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                print("canaria up did not start", file=sys.stderr)
                return 1
            time.sleep(0.3)
        port = int(json.loads(answer.stdout)["gateway"].rsplit(":", 1)[1])
        control = int(endpoint.read_text().strip().rsplit(":", 1)[1])
        traffic = Traffic(port)
        traffic.start()
        time.sleep(2)
        good = cli(
            env, "deploy", "-t", str(template), "--parameter-overrides", "AppVersion=v2", "--wait"
        )
        bad = cli(
            env, "deploy", "-t", str(template), "--parameter-overrides", "AppVersion=v3", "--wait"
        )
        traffic.stopping.set()
        traffic.join()
        deployments = get_json(env, "deployments")["deployments"]
        print("\n== summary ==")
        for version, (n, errors) in per_version(env, control, "HelloFunction").items():
            print(f"HelloFunction v{version}: {n} requests, {errors} errors")
        print(
            f"requests sent: {sum(traffic.statuses.values())}  by status: "
            f"{dict(sorted(traffic.statuses.items()))}"
        )
        for d in reversed(deployments):
            t = d["targets"][0]
            line = f"{d['id']} v{t['from_version']}→v{t['to_version']}: {d['state']}" + (
                " (rolled back)" if d["rolled_back"] else ""
            )
            if d.get("stopped_by"):
                at = time.strftime("%H:%M:%S", time.localtime(d["completed_at"]))
                after = d["completed_at"] - d["created_at"]
                line += (
                    f" — stopped by {d['stopped_by']} at {at} (virtual), {after:.0f} "
                    f"virtual seconds after it started: {d['error_message']}"
                )
            print(line)
        summary = get_json(env, "status")
        for name, f in summary["functions"].items():
            for a in f["aliases"]:
                print(f"{name}:{a['name']} now serves {a['split']}")
        print(f"demo finished in {time.monotonic() - started:.0f} s")
        return 0 if good.returncode == 0 and bad.returncode == 1 else 1
    finally:
        if traffic is not None:
            traffic.stopping.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


if __name__ == "__main__":
    raise SystemExit(main())
