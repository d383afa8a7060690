"""`canaria deploy --watch` against a real `canaria up`: each save under the template's
folder is a release, followed to its end; a template that does not load is printed and
the watch goes on; canaria's own state directory inside the folder is not a change;
Ctrl-C stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.functional.harness import Canaria, eventually, write_app

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: python3.11
      CodeUri: src
      AutoPublishAlias: live
      DeploymentPreference: {Type: AllAtOnce}
      Events:
        Get: {Type: HttpApi, Properties: {Path: /, Method: get}}
"""
HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ANSWER"}\n'


def test_each_save_is_a_release_and_a_broken_template_does_not_stop_the_watch(
    tmp_path: Path,
) -> None:
    files = {"template.yaml": TEMPLATE, "src/app.py": HANDLER.replace("ANSWER", "one")}
    template = write_app(tmp_path / "app", files)
    # the state directory inside the watched folder: its writes must not look like saves
    c = Canaria(template, template.parent / ".canaria", clock="real").start()
    out = tmp_path / "watch.log"
    with out.open("wb") as log:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "canaria.cli.main", "deploy", "--watch"],
            cwd=template.parent,
            env=c.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually(lambda: "watching" in out.read_text(), "the watch starts")
        (template.parent / "src" / "app.py").write_text(HANDLER.replace("ANSWER", "two"))
        eventually(lambda: c.http("GET", "/")[2] == b"two", "the save is deployed")
        eventually(lambda: "Succeeded" in out.read_text(), "the deployment is followed")
        changed = [line for line in out.read_text().splitlines() if line.startswith("changed:")]
        assert changed and all(".canaria" not in line for line in changed), changed

        template.write_text(TEMPLATE + "  Bad: {Type: Nope}\n")
        eventually(lambda: "'Nope' is not a resource type" in out.read_text(), "the error")
        assert watcher.poll() is None, out.read_text()  # still watching
        template.write_text(TEMPLATE)
        (template.parent / "src" / "app.py").write_text(HANDLER.replace("ANSWER", "three"))
        eventually(lambda: c.http("GET", "/")[2] == b"three", "the fixed template is deployed")
    finally:
        watcher.send_signal(signal.SIGINT)
        try:
            watcher.wait(timeout=30)
        finally:
            watcher.kill()
            c.stop()
    assert watcher.returncode == 0, out.read_text()
    assert "stopped watching" in out.read_text()
    changed = [line for line in out.read_text().splitlines() if line.startswith("changed:")]
    assert all(".canaria" not in line for line in changed), changed  # its own writes
