"""Nested applications: a local ``AWS::Serverless::Application`` (or
``AWS::CloudFormation::Stack``) read into its parent as one stack, with the child's names
prefixed, its parameters bound to the parent's values, its outputs given to the parent,
its Globals, implicit APIs and paths its own; errors name the child's file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from canaria.template import load
from tests.unit.template.template_helpers import PY, fails, function, line_of, resources, write


def child(tmp_path: Path, body: str, name: str = "child/template.yaml") -> Path:
    """A nested template ``name`` beside the parent (in ``tmp_path/app``), with a ``src``."""
    path = tmp_path / "app" / name
    (path.parent / "src").mkdir(parents=True, exist_ok=True)
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\n" + textwrap.dedent(body).replace("{py}", PY)
    )
    return path


CHILD = """\
Parameters:
  TableArn: {Type: String}
  Stage: {Type: String, Default: dev, AllowedValues: [dev, prod]}
  Names: {Type: CommaDelimitedList, Default: "a,b"}
Globals:
  Function:
    Timeout: 9
    Environment: {Variables: {FROM_CHILD_GLOBALS: "yes"}}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {py}
      CodeUri: src
      AutoPublishAlias: live
      Environment:
        Variables:
          TABLE: !Ref TableArn
          STAGE: !Sub "${Stage}-${AWS::StackName}"
          FIRST: !Select [0, !Ref Names]
          ROLE: !Ref FnRole
          PROD: !If [IsProd, "on", "off"]
      Events:
        Get: {Type: Api, Properties: {Path: /items, Method: get}}
Outputs:
  FnName: {Value: !Ref Fn}
  AliasArn: {Value: !Ref Fn.Alias}
"""


def parent(extra_props: str = "", extra: str = "") -> str:
    return (
        resources(
            function(
                extra="""\
            Environment:
              Variables:
                CHILD_FN: !GetAtt App.Outputs.FnName
                CHILD_ALIAS: !Sub "alias=${App.Outputs.AliasArn}"
            Events:
              Get: {Type: Api, Properties: {Path: /items, Method: get}}
            """
            ),
            f"""\
  Table:
    Type: AWS::Serverless::SimpleTable
  App:
    Type: AWS::Serverless::Application
    Properties:
      Location: ./child/template.yaml
      Parameters:
        TableArn: !GetAtt Table.Arn
{textwrap.indent(textwrap.dedent(extra_props), "        ")}{extra}""",
        )
        + "Globals:\n  Function:\n    Timeout: 30\n"
    )


def test_a_nested_applications_resources_join_the_parents_under_its_name(tmp_path: Path) -> None:
    path = write(tmp_path, parent())
    child(tmp_path, CHILD)
    app = load(path)
    assert sorted(app.functions) == ["AppFn", "Fn"]
    nested = app.functions["AppFn"]
    env = nested.config.environment
    assert env["TABLE"].endswith(":table/Table") or "Table" in env["TABLE"]  # the parent's
    assert env["STAGE"] == f"dev-{app_stack(path)}-App"  # AWS::StackName names the child
    assert env["FIRST"] == "a"  # a list parameter's Default, split
    assert env["ROLE"] == "AppFnRole"  # a name SAM generates, in the child's namespace
    assert env["PROD"] == "off"
    assert nested.auto_publish_alias == "live"
    # the child's Globals are its own, the parent's are the parent's
    assert nested.config.timeout_s == 9 and env["FROM_CHILD_GLOBALS"] == "yes"
    assert app.functions["Fn"].config.timeout_s == 30
    assert "FROM_CHILD_GLOBALS" not in app.functions["Fn"].config.environment
    # the parent reads the child's outputs
    parent_env = app.functions["Fn"].config.environment
    assert parent_env["CHILD_FN"] == "AppFn"
    assert parent_env["CHILD_ALIAS"].startswith("alias=arn:aws:lambda:")
    assert parent_env["CHILD_ALIAS"].endswith(":function:AppFn:live")
    # each stack's events without an API go to its own implicit API
    assert {r.api_id for r in app.functions["Fn"].routes} == {"ServerlessRestApi"}
    assert {r.api_id for r in nested.routes} == {"AppServerlessRestApi"}
    assert {r.stage for r in nested.routes} == {"Prod"}


def app_stack(path: str) -> str:
    return Path(path).parent.name


def test_parameters_given_by_the_parent_are_checked_against_the_childs_rules(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, parent("Stage: prod\nNames: x,y\n"))
    child(tmp_path, CHILD)
    env = load(path).functions["AppFn"].config.environment
    assert env["PROD"] == "on" and env["FIRST"] == "x"

    path = write(tmp_path, parent("Stage: staging\n"))
    error = fails(path)
    assert error.file == path and error.line == line_of(path, "Stage: staging")
    assert "'staging' is not allowed" in error.message
    assert "App.Properties.Parameters" in error.message


def test_a_parameter_without_a_value_or_an_unknown_one_is_refused_in_the_parent(
    tmp_path: Path,
) -> None:
    child(tmp_path, CHILD)
    path = write(
        tmp_path,
        resources(
            """\
  App:
    Type: AWS::Serverless::Application
    Properties:
      Location: child/template.yaml
"""
        ),
    )
    error = fails(path)
    assert "needs a value for parameter TableArn" in error.message
    assert error.file == path

    path = write(tmp_path, parent("Colour: blue\n"))
    error = fails(path)
    assert "does not declare" in error.message and error.line == line_of(path, "Colour: blue")
    assert "Names, Stage, TableArn" in (error.allowed or "")


def test_an_error_in_the_child_names_the_childs_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, parent())
    wrong = CHILD.replace("AutoPublishAlias: live", "AutoPublishAlias: live\n      MemorySize: 1")
    nested = child(tmp_path, wrong)
    error = fails(path)
    assert error.file == str(Path(path).parent / "child" / "template.yaml")
    assert error.line == line_of(str(nested), "MemorySize: 1")
    assert error.prop == "Resources.Fn.Properties.MemorySize"
    assert Path(error.file).resolve() == nested.resolve()


def test_a_missing_template_or_one_nested_in_itself_is_refused_at_its_location(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, parent())
    error = fails(path)
    assert "is not a file" in error.message and error.line == line_of(path, "Location:")

    loop = """\
Resources:
  Again:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: ../template.yaml}
"""
    child(tmp_path, loop)
    path = write(
        tmp_path,
        resources(
            """\
  App:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: ./child/template.yaml}
"""
        ),
    )
    error = fails(path)
    assert "nest itself" in error.message
    assert error.file == str(Path(path).parent / "child" / "template.yaml")


def test_paths_in_a_nested_template_are_relative_to_its_own_directory(tmp_path: Path) -> None:
    path = write(tmp_path, parent())
    nested = child(tmp_path, CHILD)
    (nested.parent / "src" / "app.py").write_text("def handler(event, context):\n    return 1\n")
    app = load(path)
    assert Path(app.functions["AppFn"].config.code_uri) == (nested.parent / "src").resolve()
    assert Path(app.functions["Fn"].config.code_uri) == (Path(path).parent / "src").resolve()


def test_a_name_the_child_would_add_twice_is_refused(tmp_path: Path) -> None:
    child(tmp_path, CHILD)
    path = write(tmp_path, parent(extra=function("AppFn")))
    error = fails(path)
    assert "would add a resource 'AppFn'" in error.message


def test_a_condition_on_the_application_holds_every_resource_of_the_child(
    tmp_path: Path,
) -> None:
    child(tmp_path, CHILD)
    head = "Transform: AWS::Serverless-2016-10-31\nParameters:\n  Enable: {Type: String}\n"
    head += "Conditions:\n  WithChild: !Equals [!Ref Enable, 'yes']\n"
    body = resources(
        function(),
        """\
  App:
    Type: AWS::Serverless::Application
    Condition: WithChild
    Properties:
      Location: ./child/template.yaml
      Parameters: {TableArn: arn}
""",
    )
    path = write(tmp_path, body, head=head)
    assert sorted(load(path, {"Enable": "yes"}).functions) == ["AppFn", "Fn"]
    assert sorted(load(path, {"Enable": "no"}).functions) == ["Fn"]


def test_an_application_from_the_repository_or_a_url_is_still_skipped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        resources(
            function(),
            """\
  Remote:
    Type: AWS::Serverless::Application
    Properties:
      Location:
        ApplicationId: arn:aws:serverlessrepo:us-east-1:1:applications/x
        SemanticVersion: 1.0.0
  Url:
    Type: AWS::CloudFormation::Stack
    Properties: {TemplateURL: "https://example.com/t.yaml"}
""",
        ),
    )
    app = load(path)
    assert {s.logical_id for s in app.skipped} >= {"Remote", "Url"}


def test_siblings_pass_outputs_to_each_other_and_grandchildren_nest(tmp_path: Path) -> None:
    child(
        tmp_path,
        """\
Resources:
  Inner:
    Type: AWS::Serverless::Application
    Properties: {Location: ./inner.yaml}
Outputs:
  Name: {Value: !GetAtt Inner.Outputs.Name}
""",
        name="first/template.yaml",
    )
    child(
        tmp_path,
        """\
Resources:
  Queue: {Type: AWS::SQS::Queue}
Outputs:
  Name: {Value: !GetAtt Queue.QueueName}
""",
        name="first/inner.yaml",
    )
    child(
        tmp_path,
        """\
Parameters:
  QueueName: {Type: String}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: app.handler
      Runtime: {py}
      CodeUri: src
      Environment: {Variables: {QUEUE: !Ref QueueName}}
""",
        name="second/template.yaml",
    )
    path = write(
        tmp_path,
        resources(
            """\
  First:
    Type: AWS::Serverless::Application
    Properties: {Location: first/template.yaml}
  Second:
    Type: AWS::Serverless::Application
    DependsOn: First
    Properties:
      Location: second/template.yaml
      Parameters: {QueueName: !GetAtt First.Outputs.Name}
"""
        ),
    )
    app = load(path)
    assert list(app.functions) == ["SecondFn"]
    # a generated name holds the nested logical id, as CloudFormation's does
    assert app.functions["SecondFn"].config.environment["QUEUE"].endswith("FirstInnerQueue")
    assert "FirstInnerQueue" in app.services


def test_a_route_another_api_answers_first_is_named_with_the_host_that_reaches_it(
    tmp_path: Path,
) -> None:
    """The parent's and the child's implicit APIs both serve ``GET /items`` at ``Prod``:
    canaria serves one path space per port, so the child's route is reached by its Host."""
    path = write(tmp_path, parent())
    child(tmp_path, CHILD)
    warnings = [w for w in load(path).warnings if "shared paths" in w]
    assert len(warnings) == 1, warnings
    assert "GET /items of AppServerlessRestApi (function AppFn) is answered by" in warnings[0]
    assert "ServerlessRestApi's GET /items (function Fn)" in warnings[0]
    assert "curl http://appserverlessrestapi.localhost:<gateway port>/" in warnings[0]


def test_an_output_the_child_does_not_declare_is_refused_where_the_parent_reads_it(
    tmp_path: Path,
) -> None:
    child(tmp_path, CHILD)
    path = write(tmp_path, parent().replace("App.Outputs.FnName", "App.Outputs.FnNme"))
    error = fails(path)
    assert error.line == line_of(path, "App.Outputs.FnNme")
    assert "has no output 'FnNme'" in error.message and error.allowed == "AliasArn, FnName"
    path = write(tmp_path, parent().replace("App.Outputs.FnName", "App.Arn"))
    error = fails(path)
    assert "whose only attributes are its outputs, not 'Arn'" in error.message
