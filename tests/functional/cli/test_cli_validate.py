"""`canaria validate` as a user runs it: a real process, its exit code, its output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.unit.template.template_helpers import function, resources, write


def validate(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "validate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_valid_template_exits_0_with_warnings(tmp_path: Path) -> None:
    layer = (
        "  Layer:\n    Type: AWS::Serverless::LayerVersion\n"
        "    Properties: {ContentUri: s3://bucket/layer.zip}\n"
    )
    path = Path(write(tmp_path, resources(function(), layer)))
    done = validate(path.parent)  # template.yaml found without -t
    assert done.returncode == 0, done.stderr
    assert "is a valid SAM template" in done.stdout
    assert "warning:" in done.stderr and "Layer" in done.stderr


def test_invalid_template_exits_2_with_every_error(tmp_path: Path) -> None:
    body = resources(function("A", extra="Timeout: many\n"), function("B", extra="MemorySize: 1\n"))
    path = Path(write(tmp_path, body))
    done = validate(tmp_path, "-t", str(path))
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2
    assert "template.yaml:9: Resources.A.Properties.Timeout" in errors[0]
    assert "Resources.B.Properties.MemorySize" in errors[1]


def test_json_report_and_template_yml(tmp_path: Path) -> None:
    path = Path(write(tmp_path, resources(function(extra="Timeout: many\n")), "template.yml"))
    done = validate(path.parent, "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["valid"] is False and report["template"] == "template.yml"
    [error] = report["errors"]
    assert error["line"] == 9 and error["property"] == "Resources.Fn.Properties.Timeout"
    assert error["message"] == "expected an integer, got 'many'"


def test_no_template_here(tmp_path: Path) -> None:
    done = validate(tmp_path)
    assert done.returncode == 2
    assert "template.yaml, template.yml, template.json" in done.stderr


def test_no_template_here_in_json(tmp_path: Path) -> None:
    done = validate(tmp_path, "--json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert report["valid"] is False and "no template" in report["errors"][0]["message"]


MACHINE = """\
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Scan
        States:
          Scan:
            Type: Task
            Resource: arn:aws:states:::dynamodb:scan
            End: true
"""


def test_a_state_machine_up_would_refuse_is_an_error_here_too(tmp_path: Path) -> None:
    path = Path(write(tmp_path, resources(function(), MACHINE)))
    done = validate(tmp_path, "-t", str(path), "--json")
    assert done.returncode == 2, done.stdout
    [error] = json.loads(done.stdout)["errors"]
    assert error["property"] == "Resources.Flow"
    assert error["message"].startswith('Resources.Flow (state machine Flow): state "Scan": ')
    assert "the dynamodb:scan service integration is not supported" in error["message"]
    fixed = path.read_text().replace("dynamodb:scan", "dynamodb:getItem")
    path.write_text(fixed)
    assert validate(tmp_path, "-t", str(path)).returncode == 0


def test_up_prints_every_error_of_a_template_yml(tmp_path: Path) -> None:
    """`up` without -t finds template.yml as the SAM CLI does, and refuses it with every
    error at once before it starts anything."""
    body = resources(function("A", extra="Timeout: many\n"), function("B", extra="MemorySize: 1\n"))
    path = Path(write(tmp_path, body, "template.yml"))
    done = subprocess.run(
        [sys.executable, "-m", "canaria.cli.main", "up", "--port", "0", "--control-port", "0"],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CANARIA_STATE": str(tmp_path / "state")},
    )
    assert done.returncode == 2
    assert "2 problems in the template:" in done.stderr
    assert "template.yml:9: Resources.A.Properties.Timeout" in done.stderr
    assert "Resources.B.Properties.MemorySize" in done.stderr


def test_a_mapping_template_that_does_not_parse_is_a_warning(tmp_path: Path) -> None:
    api = """\
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      DefinitionBody:
        openapi: "3.0.1"
        paths:
          /health:
            get:
              x-amazon-apigateway-integration:
                type: mock
                requestTemplates: {application/json: '{"statusCode": 200}'}
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates: {application/json: '#if($input.path("$.x")'}
"""
    path = Path(write(tmp_path, resources(function(), api)))
    done = validate(path.parent)
    assert done.returncode == 0, done.stderr
    assert (
        "Api GET /health: its response template for application/json does not parse, so "
        "API Gateway answers 500 when it is called: mapping template does not parse"
    ) in done.stderr


def test_parameter_overrides_as_the_sam_cli_takes_them_unquoted(tmp_path: Path) -> None:
    body = "Parameters:\n  Stage: {Type: String}\n  Greeting: {Type: String}\n" + resources(
        function(extra="Environment: {Variables: {S: !Ref Stage}}\n")
    )
    path = write(tmp_path, body)
    for args in (
        ("--parameter-overrides", "Stage=dev", "Greeting=hello world", "-t", path),
        ("--parameter-overrides", "Stage=dev Greeting=hi", "-t", path),
        ("-t", path, "--parameter-overrides", "Stage=dev", "Greeting=hi"),
    ):
        done = validate(tmp_path, *args)
        assert done.returncode == 0, (args, done.stderr)
    done = validate(tmp_path, "-t", path, "--parameter-overrides", "Stage=dev")
    assert done.returncode == 2 and "Greeting" in done.stderr
