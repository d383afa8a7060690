"""Parameters: --parameter-overrides syntax, samconfig.toml, precedence, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.errors import TemplateError
from canaria.template import load, parse_parameter_overrides
from tests.unit.template.template_helpers import fails, function, line_of, resources, write

# ---- --parameter-overrides ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A=1", {"A": "1"}),
        ("A=1 B=two", {"A": "1", "B": "two"}),
        ('A="quoted value" B=x', {"A": "quoted value", "B": "x"}),
        ("A='single quoted'", {"A": "single quoted"}),
        ('A="with \\"escaped\\" quotes"', {"A": 'with "escaped" quotes'}),
        ("ParameterKey=A,ParameterValue=1", {"A": "1"}),
        (
            'ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue="x y"',
            {"A": "1", "B": "x y"},
        ),
        ("A=1 ParameterKey=B,ParameterValue=2", {"A": "1", "B": "2"}),
        ("A=a=b,c", {"A": "a=b,c"}),
        ("A=", {"A": ""}),
        ("  A=1   ", {"A": "1"}),
        ("", {}),
    ],
)
def test_parse_parameter_overrides(text: str, expected: dict[str, str]) -> None:
    assert parse_parameter_overrides(text) == expected


@pytest.mark.parametrize("text", ["A", "=1", "A=1 B", 'A="unclosed', "A-B=1"])
def test_bad_override_syntax(text: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_parameter_overrides(text)
    assert info.value.allowed is not None and "ParameterKey=" in info.value.allowed


# ---- declared parameters -----------------------------------------------------------------

PARAMS = """\
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Memory:
    Type: Number
    Default: 256
    MinValue: 128
    MaxValue: 1024
  Names:
    Type: CommaDelimitedList
    Default: "a,b"
  Code:
    Type: String
    Default: abc
    AllowedPattern: "[a-z]+"
    ConstraintDescription: lower-case letters only
  Subnet:
    Type: AWS::EC2::Subnet::Id
    Default: subnet-1
"""
FN = function(
    extra="""\
MemorySize: !Ref Memory
Environment:
  Variables:
    STAGE: !Ref Stage
    FIRST: !Select [0, !Ref Names]
    CODE: !Ref Code
    SUBNET: !Ref Subnet
"""
)


def test_defaults(tmp_path: Path) -> None:
    app = load(write(tmp_path, PARAMS + resources(FN)))
    assert app.parameters == {
        "Stage": "dev",
        "Memory": "256",
        "Names": "a,b",
        "Code": "abc",
        "Subnet": "subnet-1",
    }
    fn = app.functions["Fn"]
    assert fn.config.memory_mb == 256
    assert fn.config.environment == {
        "STAGE": "dev",
        "FIRST": "a",
        "CODE": "abc",
        "SUBNET": "subnet-1",
    }


def test_overrides(tmp_path: Path) -> None:
    app = load(write(tmp_path, PARAMS + resources(FN)), {"Stage": "prod", "Names": "x, y"})
    assert app.functions["Fn"].config.environment["STAGE"] == "prod"
    assert app.functions["Fn"].config.environment["FIRST"] == "x"


def test_an_ssm_parameter_type_says_its_default_is_the_name_not_the_value(
    tmp_path: Path,
) -> None:
    params = (
        "Parameters:\n  Key:\n    Type: AWS::SSM::Parameter::Value<String>\n"
        "    Default: /app/api-key\n"
    )
    fn = function(extra="Environment: {Variables: {KEY: !Ref Key}}\n")
    app = load(write(tmp_path, params + resources(fn)))
    assert any(
        "parameter Key (AWS::SSM::Parameter::Value<String>)" in w
        and "'/app/api-key'" in w
        and "--parameter-overrides Key=<value>" in w
        for w in app.warnings
    ), app.warnings
    given = load(write(tmp_path, params + resources(fn)), {"Key": "secret"})
    assert not any("SSM parameter" in w for w in given.warnings)


def test_value_outside_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    err = fails(path, overrides={"Stage": "qa"})
    assert "Stage" in err.message and "'qa'" in err.message and "--parameter-overrides" in str(err)
    assert err.allowed == "dev, prod"
    assert err.prop == "Parameters.Stage" and err.line == line_of(path, "Stage:")


def test_number_range_and_type(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    assert fails(path, overrides={"Memory": "64"}).allowed == "128 to 1024"
    assert "not a number" in fails(path, overrides={"Memory": "lots"}).message


def test_allowed_pattern(tmp_path: Path) -> None:
    err = fails(write(tmp_path, PARAMS + resources(FN)), overrides={"Code": "ABC"})
    assert "lower-case letters only" in err.message and err.allowed == "[a-z]+"


def test_allowed_pattern_is_read_as_java_reads_it(tmp_path: Path) -> None:
    """CloudFormation's patterns are Java regular expressions: Unicode classes such as
    \\p{L} (which Python's ``re`` refuses) are checked, not refused."""
    params = """\
Parameters:
  Owner:
    Type: String
    Default: Zoë
    AllowedPattern: "^\\\\p{L}+$"
"""
    path = write(tmp_path, params + resources(function()))
    load(str(path))  # the default matches
    err = fails(path, overrides={"Owner": "Zoë1"})
    assert "Owner" in err.message and err.allowed == "^\\p{L}+$"


def test_unknown_override(tmp_path: Path) -> None:
    err = fails(write(tmp_path, PARAMS + resources(FN)), overrides={"Stagee": "dev"})
    assert "Stagee" in err.message
    assert err.allowed == "Code, Memory, Names, Stage, Subnet"


def test_missing_value_without_default(tmp_path: Path) -> None:
    path = write(tmp_path, "Parameters:\n  Key:\n    Type: String\n" + resources(function()))
    err = fails(path)
    assert "no Default" in err.message and err.prop == "Parameters.Key"
    assert err.allowed == "--parameter-overrides Key=<value>"
    assert load(path, {"Key": "v"}).parameters == {"Key": "v"}


def test_unknown_parameter_type(tmp_path: Path) -> None:
    path = write(
        tmp_path, "Parameters:\n  P:\n    Type: Strin\n    Default: x\n" + resources(function())
    )
    err = fails(path)
    assert err.prop == "Parameters.P.Type" and err.allowed is not None and "String" in err.allowed


def test_number_list(tmp_path: Path) -> None:
    body = "Parameters:\n  Ports:\n    Type: List<Number>\n    Default: '80,x'\n"
    err = fails(write(tmp_path, body + resources(function())))
    assert "'x' is not a number" in err.message


# ---- samconfig.toml ----------------------------------------------------------------------


def samconfig(tmp_path: Path, text: str) -> None:
    (tmp_path / "app").mkdir(exist_ok=True)
    (tmp_path / "app" / "samconfig.toml").write_text(text)


def test_precedence_overrides_samconfig_default(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    samconfig(
        tmp_path,
        'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "Stage=prod Code=xyz"\n',
    )
    app = load(path)
    assert app.parameters["Stage"] == "prod" and app.parameters["Code"] == "xyz"
    app = load(path, {"Stage": "dev"})
    assert app.parameters["Stage"] == "dev" and app.parameters["Code"] == "xyz"


def test_samconfig_list_form_global_and_envs(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    samconfig(
        tmp_path,
        """\
version = 0.1
[default.global.parameters]
parameter_overrides = ["Stage=prod", "Memory=512"]
[staging.deploy.parameters]
parameter_overrides = "Memory=1024"
[staging.global.parameters]
parameter_overrides = "Stage=prod"
""",
    )
    assert load(path).parameters["Memory"] == "512"
    app = load(path, config_env="staging")
    assert app.parameters["Memory"] == "1024" and app.parameters["Stage"] == "dev"


def test_samconfig_unknown_env(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    samconfig(tmp_path, 'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "A=1"\n')
    err = fails(path, config_env="prod")
    assert "'prod'" in err.message and err.allowed == "default"
    assert err.file is not None and err.file.endswith("samconfig.toml")


def test_samconfig_bad_values(tmp_path: Path) -> None:
    path = write(tmp_path, PARAMS + resources(FN))
    samconfig(
        tmp_path, 'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "Nope=1"\n'
    )
    err = fails(path)
    assert "samconfig.toml" in err.message and "Nope" in err.message
    samconfig(
        tmp_path, 'version = 0.1\n[default.deploy.parameters]\nparameter_overrides = "Stage=qa"\n'
    )
    assert "samconfig.toml" in str(fails(path))
    samconfig(tmp_path, "version = 0.2\n")
    assert fails(path).allowed == "0.1"
    samconfig(tmp_path, "version = \n")
    assert "invalid TOML" in fails(path).message


def test_config_env_without_samconfig(tmp_path: Path) -> None:
    err = fails(write(tmp_path, resources(function())), config_env="prod")
    assert "samconfig.toml" in err.message


def test_samconfig_names_the_stack(tmp_path: Path) -> None:
    """``sam deploy`` deploys the stack samconfig.toml names: ``AWS::StackName`` and the
    names built from it are that stack's, not the folder's."""
    table = (
        "  Orders:\n    Type: AWS::Serverless::SimpleTable\n"
        "  Named:\n    Type: AWS::SQS::Queue\n"
        "    Properties: {QueueName: !Sub '${AWS::StackName}-jobs'}\n"
    )
    path = write(tmp_path, PARAMS + resources(FN + table))
    assert load(path).tables["Orders"].table_name == "app-Orders"  # the folder's name
    samconfig(
        tmp_path,
        'version = 0.1\n[default.global.parameters]\nstack_name = "shop"\n'
        '[prod.deploy.parameters]\nstack_name = "shop-prod"\n',
    )
    app = load(path)
    assert app.tables["Orders"].table_name == "shop-Orders"
    assert app.services["Named"].name == "shop-jobs"
    assert load(path, config_env="prod").tables["Orders"].table_name == "shop-prod-Orders"
    samconfig(tmp_path, 'version = 0.1\n[default.deploy.parameters]\nstack_name = "9 lives"\n')
    err = fails(path)
    assert "stack_name" in err.message and err.prop == "default.deploy.parameters.stack_name"
