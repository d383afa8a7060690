"""SAM parity: templates of public-app shapes load, bad ones are refused with every error.

Each test is a regression for a crash or a wrongly refused or accepted pattern found by
running the loader over SAM's translator test inputs and public SAM applications.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from canaria.errors import TemplateError, TemplateErrors
from canaria.template import load
from tests.unit.template.template_helpers import fails, function, line_of, resources, write


def errors_of(path: str) -> list[TemplateError]:
    err = fails(path)
    return list(err.errors) if isinstance(err, TemplateErrors) else [err]


# ---- crashes that became errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("constraint", "prop", "words"),
    [
        ("MinValue: low", "Parameters.P.MinValue", "expected a number, got 'low'"),
        ('AllowedPattern: "[a-"', "Parameters.P.AllowedPattern", "not a regular expression"),
        ("MinLength: two", "Parameters.P.MinLength", "expected a number, got 'two'"),
    ],
)
def test_bad_parameter_constraints_are_errors(
    tmp_path: Path, constraint: str, prop: str, words: str
) -> None:
    type_ = "Number" if "Value" in constraint else "String"
    body = f"Parameters:\n  P:\n    Type: {type_}\n    Default: '3'\n    {constraint}\n"
    path = write(tmp_path, body + resources(function()))
    err = fails(path)
    assert err.prop == prop and words in err.message
    assert err.line == line_of(path, constraint.split(":")[0] + ":")


def test_every_parameter_error_at_once(tmp_path: Path) -> None:
    body = """\
Parameters:
  A: {Type: Number, MinValue: low, Default: 1}
  B: {Type: String, AllowedPattern: "[a-", Default: x}
  C: {Type: String, MinLength: two, Default: x}
"""
    errors = errors_of(write(tmp_path, body + resources(function())))
    assert [e.prop for e in errors] == [
        "Parameters.A.MinValue",
        "Parameters.B.AllowedPattern",
        "Parameters.C.MinLength",
    ]
    assert [e.line for e in errors] == [3, 4, 5]


def test_function_named_like_the_implicit_api(tmp_path: Path) -> None:
    events = "Events:\n  Get: {Type: Api, Properties: {Path: /, Method: get}}\n"
    path = write(
        tmp_path,
        resources(function(extra=events), function("ServerlessRestApi")),
    )
    errors = errors_of(path)  # an error, not KeyError: 'ServerlessRestApi'
    assert any("ServerlessRestApi" in e.message for e in errors)


# ---- every error at once, each at its line ------------------------------------------------


def test_errors_of_several_resources_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        resources(
            function("A", extra="Timeout: many\n"),
            function("B", extra="MemorySize: 1\n"),
            function("C", extra="Events:\n  E: {Type: Api, Properties: {Path: /x}}\n"),
        ),
    )
    err = fails(path)
    assert isinstance(err, TemplateErrors) and len(err.errors) == 3
    props = [e.prop or "" for e in err.errors]
    assert props[0] == "Resources.A.Properties.Timeout"
    assert props[1] == "Resources.B.Properties.MemorySize"
    assert props[2].startswith("Resources.C")
    assert err.errors[0].line == line_of(path, "Timeout: many")
    assert err.message.startswith("3 problems in the template:")
    assert "['" not in err.message and "{'" not in err.message


def test_sam_rules_place_errors_at_the_resource(tmp_path: Path) -> None:
    api = """\
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Auth: not-a-map
"""
    path = write(tmp_path, resources(function(), api))
    errors = errors_of(path)
    assert any("Auth" in e.message and (e.prop or "").startswith("Resources.Api") for e in errors)
    assert all(e.line is not None for e in errors)


def test_unknown_sam_type_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, resources(function().replace("Serverless::Function", "Serverless::Fn")))
    err = fails(path)
    assert err.prop == "Resources.Fn.Type" and err.allowed is not None
    assert "AWS::Serverless::WebSocketApi" in err.allowed


# ---- valid SAM that canaria does not run: skipped or ignored, with a warning -------------


def test_newer_sam_properties_warn_and_a_websocket_api_is_read(tmp_path: Path) -> None:
    ws = """\
  Chat:
    Type: AWS::Serverless::WebSocketApi
    Properties:
      RouteSelectionExpression: $request.body.action
      Routes:
        $connect:
          FunctionArn: !GetAtt Fn.Arn
"""
    body = "Globals:\n  Function:\n    RolePath: /app/\n" + resources(
        function(extra="TenancyConfig: {TenantIsolationMode: PER_TENANT}\n"), ws
    )
    app = load(write(tmp_path, body))
    assert "Fn" in app.functions
    assert not app.skipped
    assert [r.function for r in app.websockets["Chat"].routes] == ["Fn"]
    text = "\n".join(app.warnings)
    assert "TenancyConfig" in text and "WebSocketApi" not in text


def test_disabled_preference_without_alias_loads(tmp_path: Path) -> None:
    hook = function("Hook", extra="DeploymentPreference: {Enabled: false}\n")
    app = load(write(tmp_path, resources(function(), hook)))
    assert app.functions["Hook"].deployment_preference is None
    assert any("Enabled: false" in w for w in app.warnings)


def test_globals_preference_disabled_on_its_own_hook(tmp_path: Path) -> None:
    """Globals give every function the preference, the hook included; the hook turns it
    off with ``Enabled: false`` and SAM reads nothing else of it (its Hooks name the hook
    itself, its Type may be anything)."""
    body = """\
Globals:
  Function:
    AutoPublishAlias: live
    DeploymentPreference:
      Type: Canary10Percent5Minutes
      Hooks: {PreTraffic: !Ref Hook}
"""
    hook = function("Hook", extra="DeploymentPreference: {Enabled: false, Type: Whatever}\n")
    app = load(write(tmp_path, body + resources(function(), hook)))
    preference = app.functions["Fn"].deployment_preference
    assert preference is not None and preference.pre_traffic_hook == "Hook"
    disabled = app.functions["Hook"].deployment_preference
    assert disabled is not None and not disabled.enabled and disabled.pre_traffic_hook is None


def test_globals_preference_on_its_own_hook_says_how_to_turn_it_off(tmp_path: Path) -> None:
    body = """\
Globals:
  Function:
    AutoPublishAlias: live
    DeploymentPreference:
      Type: AllAtOnce
      Hooks: {PreTraffic: !Ref Hook}
"""
    path = write(tmp_path, body + resources(function(), function("Hook")))
    [err] = errors_of(path)
    assert "Hook is its own hook" in err.message
    assert err.prop == "Globals.Function.DeploymentPreference.Hooks.PreTraffic"
    assert err.allowed is not None and "{Enabled: false} on Hook" in err.allowed


def test_enabled_preference_without_alias_is_still_refused(tmp_path: Path) -> None:
    fn = function(extra="DeploymentPreference: {Type: AllAtOnce}\n")
    errors = errors_of(write(tmp_path, resources(fn)))
    assert any("AutoPublishAlias" in e.message for e in errors)


ALARM = """\
  NewVersionErrors:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
      Dimensions:
        - Name: Resource
          Value: !Sub "${Fn}:live"
        - Name: FunctionName
          Value: !Ref Fn
        - Name: ExecutedVersion
          Value: VERSION
"""


@pytest.mark.parametrize("version", ["!GetAtt Fn.Version.Version", '!Sub "${Fn.Version.Version}"'])
def test_executed_version_dimension_from_the_generated_version(
    tmp_path: Path, version: str
) -> None:
    fn = function(
        extra="AutoPublishAlias: live\n"
        "DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref NewVersionErrors]}\n"
    )
    app = load(write(tmp_path, resources(fn, ALARM.replace("VERSION", version))))
    alarm = app.alarms["NewVersionErrors"]
    assert "{{canaria:version:Fn}}" in str(alarm)
    assert app.functions["Fn"].deployment_preference is not None


def test_alarm_outside_aws_lambda_is_skipped_and_not_watched(tmp_path: Path) -> None:
    fn = function(
        extra="AutoPublishAlias: live\n"
        "DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref CpuAlarm]}\n"
    )
    alarm = ALARM.replace("NewVersionErrors", "CpuAlarm").replace("AWS/Lambda", "AWS/EC2")
    app = load(write(tmp_path, resources(fn, alarm.replace("VERSION", "1"))))
    assert app.alarms == {}
    preference = app.functions["Fn"].deployment_preference
    assert preference is not None and preference.alarms == ()
    assert any("AWS/EC2" in w for w in app.warnings)


def test_state_machine_alias_is_ignored_with_a_warning(tmp_path: Path) -> None:
    machine = """\
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      AutoPublishAlias: live
      DeploymentPreference: {Type: ALL_AT_ONCE}
      Definition:
        StartAt: Done
        States:
          Done: {Type: Pass, End: true}
"""
    app = load(write(tmp_path, resources(function(), machine)))
    assert "Flow" in app.state_machines
    assert any("AutoPublishAlias is ignored" in w for w in app.warnings)


# ---- references CloudFormation would not resolve -----------------------------------------


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("!GetAtt NoSuchResource.Arn", "Fn::GetAtt"),
        ("!Ref NoSuchResource", "Ref"),
        ('!Sub "${NoSuchResource.Arn}"', "Fn::Sub"),
    ],
)
def test_unresolved_references_are_refused(tmp_path: Path, value: str, what: str) -> None:
    stream = (
        "  Stream:\n    Type: AWS::SES::EmailIdentity\n    Properties:\n"
        f"      EmailIdentity: {value}\n"
    )
    path = write(tmp_path, resources(function(), stream))
    err = fails(path)
    assert f"{what} names 'NoSuchResource'" in err.message
    assert err.prop == "Resources.Stream.Properties.EmailIdentity"
    assert err.line == line_of(path, "EmailIdentity: ")


def test_unresolved_reference_lists_the_nearest_names_cut(tmp_path: Path) -> None:
    """The names a reference could have meant, nearest first and cut, never every
    resource of the template."""
    fns = "".join(function(f"Worker{i:02d}LongDescriptiveName") for i in range(40))
    path = write(tmp_path, resources(fns) + "Outputs:\n  X: {Value: !Ref Worker7LongName}\n")
    err = fails(path)
    assert err.allowed is not None and err.allowed.endswith(" more)")
    assert err.allowed.split(", ")[0].endswith("7LongDescriptiveName") and len(err.allowed) < 400


def test_references_to_what_sam_generates_resolve(tmp_path: Path) -> None:
    events = "Events:\n  G: {Type: Api, Properties: {Path: /, Method: get}}\n"
    fn = function(extra="AutoPublishAlias: live\n" + events)
    outputs = """\
Outputs:
  Role: {Value: !GetAtt FnRole.Arn}
  Alias: {Value: !Ref Fn.Alias}
  Stage: {Value: !Ref ServerlessRestApi.Stage}
  Url: {Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"}
"""
    app = load(write(tmp_path, resources(fn) + outputs))
    assert "Fn" in app.functions


@pytest.mark.parametrize(
    ("value", "what", "name"),
    [
        ("!Ref Plain.Version", "Ref", "Plain.Version"),
        ("!GetAtt Plain.Alias.Name", "Fn::GetAtt", "Plain.Alias"),
        ("!GetAtt [Plain.Version, Version]", "Fn::GetAtt", "Plain.Version"),
        ('!Sub "${Plain.Version}"', "Fn::Sub", "Plain.Version"),
        ('!Sub "${Plain.Version.Version}"', "Fn::Sub", "Plain.Version"),
        ("!GetAtt Plain.Version.Version", "Fn::GetAtt", "Plain.Version"),
    ],
)
def test_what_sam_does_not_generate_is_an_unresolved_reference(
    tmp_path: Path, value: str, what: str, name: str
) -> None:
    """``Fn.Version`` / ``Fn.Alias`` exist only for a function with AutoPublishAlias: SAM
    leaves them as written otherwise, and CloudFormation refuses them."""
    fns = function("Live", extra="AutoPublishAlias: live\n") + function("Plain")
    outputs = f"Outputs:\n  Good: {{Value: !Ref Live.Version}}\n  Bad: {{Value: {value}}}\n"
    path = write(tmp_path, resources(fns) + outputs)
    [err] = errors_of(path)
    assert f"{what} names '{name}', which SAM generates only when Plain has AutoPublishAlias" in (
        err.message
    )
    assert err.prop == "Outputs.Bad.Value" and err.line == line_of(path, "Bad:")


def test_many_errors_are_all_kept_and_the_message_is_cut(tmp_path: Path) -> None:
    fns = [function(f"F{i}", extra="Timeout: many\n") for i in range(60)]
    err = fails(write(tmp_path, resources(*fns)))
    assert isinstance(err, TemplateErrors) and len(err.errors) == 60
    lines = err.message.splitlines()
    assert lines[0] == "60 problems in the template:"
    assert lines[-1] == "  ... and 10 more" and len(lines) == 52


def test_sam_error_about_globals_is_placed_at_globals(tmp_path: Path) -> None:
    path = write(tmp_path, "Globals:\n  Function: not-a-map\n" + resources(function()))
    errors = errors_of(path)
    assert errors and all((e.prop or "").startswith("Globals") for e in errors)
    assert errors[0].line is not None


def test_every_error_of_one_function(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Globals:\n  Function:\n    MemorySize: 1\n"
        + resources(function(extra="Timeout: many\nAutoPublishAlias: '123'\n")),
    )
    errors = errors_of(path)
    assert [e.prop for e in errors] == [
        "Globals.Function.MemorySize",
        "Resources.Fn.Properties.Timeout",
        "Resources.Fn.Properties.AutoPublishAlias",
    ]
    assert [e.line for e in errors] == [
        line_of(path, "MemorySize"),
        line_of(path, "Timeout"),
        line_of(path, "AutoPublishAlias"),
    ]


def test_every_unresolved_reference_of_one_function_at_once(tmp_path: Path) -> None:
    # the AWS SAM guide's gradual-deployment snippet, its alarms and hooks not declared
    preference = """\
AutoPublishAlias: live
DeploymentPreference:
  Type: Canary10Percent10Minutes
  Alarms: [!Ref AliasErrors, !Ref VersionErrors]
  Hooks: {PreTraffic: !Ref PreHook, PostTraffic: !Ref PostHook}
"""
    path = write(tmp_path, resources(function(extra=preference)))
    errors = errors_of(path)
    at = "Resources.Fn.Properties.DeploymentPreference"
    assert [e.prop for e in errors] == [
        f"{at}.Alarms[0]",
        f"{at}.Alarms[1]",
        f"{at}.Hooks.PreTraffic",
        f"{at}.Hooks.PostTraffic",
    ]
    names = ("AliasErrors", "VersionErrors", "PreHook", "PostHook")
    for error, name in zip(errors, names, strict=True):
        assert repr(name) in error.message


def test_executed_version_alarm_watches_the_version_a_release_runs(tmp_path: Path) -> None:
    from canaria.analysis.alarms import AlarmState, evaluate
    from canaria.analysis.metrics import Metrics
    from canaria.template.versions import with_versions

    fn = function(
        extra="AutoPublishAlias: live\n"
        "DeploymentPreference: {Type: AllAtOnce, Alarms: [!Ref NewVersionErrors]}\n"
    )
    alarm = ALARM.replace("VERSION", "!GetAtt Fn.Version.Version")
    app = with_versions(load(write(tmp_path, resources(fn, alarm))), {"Fn": 3})
    spec = app.alarms["NewVersionErrors"]
    assert spec.dimensions["ExecutedVersion"] == "3"
    metrics = Metrics()
    now = 1_700_000_040.0 + 90  # 30 s into a period; the one before is complete
    metrics.record(now - 60, "Fn", 2, "live", duration_ms=1.0, error=True)  # the old version
    assert evaluate(spec, metrics, now, AlarmState.OK).state is not AlarmState.ALARM
    metrics.record(now - 50, "Fn", 3, "live", duration_ms=1.0, error=True)  # the new one
    assert evaluate(spec, metrics, now, AlarmState.OK).state is AlarmState.ALARM


# ---- messages a person reads: no Python reprs --------------------------------------------


def test_sam_message_about_a_mapping_has_no_python_repr(tmp_path: Path) -> None:
    api = """\
  Http:
    Type: AWS::Serverless::HttpApi
    Properties:
      DefinitionBody:
        openapi: 3.0.1
        info: {title: t, version: '1.0'}
        paths: {}
        tags: {name: tag1}
"""
    fn = function(extra="Events:\n  E: {Type: HttpApi, Properties: {ApiId: !Ref Http}}\n")
    path = write(tmp_path, resources(fn, api))
    errors = errors_of(path)
    text = "\n".join(e.message for e in errors)
    assert "{name: tag1} is a mapping, not a list" in text
    assert "{'" not in text and "dict" not in text
    [tags] = [e for e in errors if "Tags" in e.message]  # placed at what it names
    assert tags.prop == "Resources.Http.Properties.DefinitionBody.tags"
    assert tags.line == line_of(path, "tags:")


def test_sam_message_about_an_openapi_path_is_placed_at_it(tmp_path: Path) -> None:
    api = """\
  Rest:
    Type: AWS::Serverless::Api
    Properties:
      StageName: Prod
      OpenApiVersion: 3.0.1
      DefinitionBody:
        openapi: 3.0.1
        info: {title: t}
        paths:
          /foo:
"""
    path = write(tmp_path, resources(function(), api))
    [err] = [e for e in errors_of(path) if "Structure of the SAM template" in e.message]
    assert "'/foo' path must be a dictionary" in err.message
    assert err.prop == "Resources.Rest.Properties.DefinitionBody.paths./foo"
    assert err.line == line_of(path, "/foo:")


def test_sam_message_about_a_generated_resource_is_placed_at_its_source(tmp_path: Path) -> None:
    role = "  FnRole:\n    Type: AWS::SNS::Topic\n"
    path = write(tmp_path, resources(function(), role))
    [err] = [e for e in errors_of(path) if "Transforming resource" in e.message]
    assert err.prop == "Resources.Fn" and err.line == line_of(path, "  Fn:")


@pytest.mark.parametrize(
    "value",
    [
        "[ServerlessRestApi]",
        "{'Fn::Transform': {Name: 'AWS::Include', Parameters: {Location: x.yaml}}}",
    ],
)
def test_event_api_messages_have_no_python_repr(tmp_path: Path, value: str) -> None:
    event = f"{{Type: Api, Properties: {{Path: /, Method: get, RestApiId: {value}}}}}"
    fn = function(extra=f"Events:\n  E: {event}\n")
    errors = errors_of(write(tmp_path, resources(fn)))
    for e in errors:
        assert not re.search(r"\['|\{'|\"\[|OrderedDict|LineMap", e.message), e.message


# ---- the template found as the SAM CLI finds it -------------------------------------------


def test_template_lookup_order_is_yaml_yml_json(tmp_path: Path) -> None:
    from canaria.template.validate import find_template

    for name in ("template.json", "template.yml", "template.yaml"):
        (tmp_path / name).write_text("{}")
    found = []
    for name in ("template.yaml", "template.yml", "template.json"):
        found.append(find_template(None, tmp_path).name)
        (tmp_path / name).unlink()
    assert found == ["template.yaml", "template.yml", "template.json"]
    with pytest.raises(TemplateError) as info:
        find_template(None, tmp_path)
    assert info.value.allowed is not None
    assert info.value.allowed.startswith("template.yaml, template.yml, template.json")


@pytest.mark.parametrize(
    ("folder", "stack"),
    [
        ("my app+v2", "my-app-v2"),
        ("2024_orders", "stack-2024-orders"),
        ("évolution", "volution"),
        ("x" * 140, "x" * 128),
        ("+++", "stack"),
    ],
)
def test_stack_name_from_the_folder_is_a_valid_one(folder: str, stack: str) -> None:
    from canaria.template.loader import stack_name

    assert stack_name(folder) == stack


def test_a_folder_name_cloudformation_would_not_take_still_names_tables(tmp_path: Path) -> None:
    table = "  Orders:\n    Type: AWS::Serverless::SimpleTable\n"
    written = Path(write(tmp_path, resources(function(), table)))
    folder = written.parent.rename(tmp_path / "my app+v2")
    app = load(str(folder / written.name))
    assert app.tables["Orders"].table_name == "my-app-v2-Orders"
