"""The ``AWS::LanguageExtensions`` transform: ``Fn::ForEach`` loops expanded in
``Resources`` (properties included), ``Conditions`` and ``Outputs`` as CloudFormation's
documentation writes them; ``Fn::Length``, ``Fn::ToJsonString`` and ``Fn::FindInMap``'s
``DefaultValue``; and loops CloudFormation would refuse, refused at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from canaria.template import load
from tests.unit.template.template_helpers import fails, line_of, write

TRANSFORMS = "Transform: [AWS::LanguageExtensions, AWS::Serverless-2016-10-31]\n"


def test_the_documentations_loops_expand_resources_from_lists_and_mappings(
    tmp_path: Path,
) -> None:
    body = """\
    Mappings:
      Buckets:
        Properties:
          Identifiers: [a, b]
    Resources:
      'Fn::ForEach::Topics':
        - TopicName
        - [Success, Failure, Timeout]
        - 'SnsTopic${TopicName}':
            Type: AWS::SNS::Topic
            Properties:
              TopicName: !Ref TopicName
      'Fn::ForEach::Buckets':
        - Identifier
        - !FindInMap [Buckets, Properties, Identifiers]
        - 'S3Bucket${Identifier}':
            Type: AWS::S3::Bucket
            Properties:
              BucketName: !Sub 'bucket-${Identifier}-docs'
      'Fn::ForEach::Queues':
        - Cidr
        - [10.0.2.0/24, 10.0.3.0/24]
        - 'Queue&{Cidr}':
            Type: AWS::SQS::Queue
    """
    app = load(write(tmp_path, body, head=TRANSFORMS))
    names = {name: getattr(spec, "name", None) for name, spec in app.services.items()}
    assert names == dict(
        [
            ("SnsTopicSuccess", "Success"),
            ("SnsTopicFailure", "Failure"),
            ("SnsTopicTimeout", "Timeout"),
            ("S3Bucketa", "bucket-a-docs"),
            ("S3Bucketb", "bucket-b-docs"),
            ("Queue1002024", "app-Queue1002024"),
            ("Queue1003024", "app-Queue1003024"),
        ]
    )


def test_functions_from_a_parameter_with_nested_loops_and_the_transforms_functions(
    tmp_path: Path,
) -> None:
    body = """\
    Parameters:
      Names: {Type: CommaDelimitedList, Default: "Alpha,Beta"}
    Mappings:
      Memory: {Alpha: {Size: 256}}
    Conditions:
      'Fn::ForEach::Flags':
        - Name
        - !Ref Names
        - 'Is${Name}': !Equals [!Ref Name, Alpha]
    Resources:
      'Fn::ForEach::Functions':
        - Name
        - !Ref Names
        - '${Name}Function':
            Type: AWS::Serverless::Function
            Properties:
              Handler: app.handler
              Runtime: {py}
              CodeUri: src
              MemorySize: !FindInMap [Memory, !Ref Name, Size, {DefaultValue: 128}]
              Environment:
                Variables:
                  'Fn::ForEach::Vars':
                    - Var
                    - [One, Two]
                    - '${Name}_${Var}': !Sub '${Var} of ${Name}'
                  COUNT: !Length [a, b, c]
                  CONFIG: !ToJsonString {name: !Ref Name, tags: [x]}
                  ALPHA: !If ['Is${Name}', 'yes', 'no']
              Events:
                Get: {Type: HttpApi, Properties: {Path: !Sub '/${Name}/{id}', Method: get}}
    Outputs:
      'Fn::ForEach::Arns':
        - Name
        - !Ref Names
        - '${Name}Arn':
            Value: !GetAtt ['${Name}Function', Arn]
    """
    app = load(write(tmp_path, body, head=TRANSFORMS))
    alpha, beta = app.functions["AlphaFunction"], app.functions["BetaFunction"]
    assert (alpha.config.memory_mb, beta.config.memory_mb) == (256, 128)
    assert alpha.config.environment == {
        "Alpha_One": "One of Alpha",
        "Alpha_Two": "Two of Alpha",
        "COUNT": "3",
        "CONFIG": '{"name":"Alpha","tags":["x"]}',
        "ALPHA": "yes",
    }
    assert beta.config.environment["ALPHA"] == "no"
    # SAM takes only a string as a route's path: the transform made the literal Sub one
    assert [r.path for r in alpha.routes] == ["/Alpha/{id}"]


def test_loops_nest_five_deep_and_no_deeper(tmp_path: Path) -> None:
    def nested(depth: int) -> str:
        key = "T" + "".join(f"${{V{i}}}" for i in range(depth))
        inner = f"'{key}': {{Type: AWS::SNS::Topic}}"
        for i in reversed(range(depth)):
            inner = f"'Fn::ForEach::L{i}': [V{i}, [x{i}], {{{inner}}}]"
        return f"Resources: {{{inner}}}\n"

    app = load(write(tmp_path, nested(5), head=TRANSFORMS))
    assert list(app.services) == ["Tx0x1x2x3x4"]
    assert "at most 5 loops deep" in str(fails(write(tmp_path, nested(6), head=TRANSFORMS)))


def test_a_template_without_the_transform_refuses_loops_and_its_functions(
    tmp_path: Path,
) -> None:
    body = """\
    Resources:
      'Fn::ForEach::Topics':
        - Name
        - [A]
        - 'Topic${Name}': {Type: AWS::SNS::Topic}
    """
    path = write(tmp_path, body)
    error = fails(path)
    assert "needs the AWS::LanguageExtensions transform" in str(error)
    assert error.line == line_of(path, "Fn::ForEach::Topics")
    length = write(
        tmp_path,
        "Resources:\n  T: {Type: AWS::SNS::Topic, Properties: {TopicName: !Length [a]}}\n",
        name="length.yaml",
    )
    assert "Fn::Length is not supported" in str(fails(length))


@pytest.mark.parametrize(
    ("loop", "message"),
    [
        ("- Name\n    - [A, B]\n    - 'Topic': {Type: AWS::SNS::Topic}", "holds neither ${Name}"),
        ("- Name\n    - Alpha\n    - 'T${Name}': {Type: AWS::SNS::Topic}", "collection is a list"),
        ("- Name\n    - [A, A]\n    - 'T${Name}': {Type: AWS::SNS::Topic}", "'TA' twice"),
        ("- Name\n    - [A]", "takes [Identifier, Collection"),
        (
            "- Na-me\n    - [A]\n    - 'T${Na-me}': {Type: AWS::SNS::Topic}",
            "identifier is a name of letters and digits",
        ),
    ],
)
def test_a_loop_cloudformation_refuses_is_refused_at_its_line(
    tmp_path: Path, loop: str, message: str
) -> None:
    path = write(tmp_path, f"Resources:\n  'Fn::ForEach::Topics':\n    {loop}\n", head=TRANSFORMS)
    error = fails(path)
    assert message in str(error), str(error)
    assert "problems" not in str(error)  # the loop's error alone, not what follows from it
    assert error.line is not None and error.line >= line_of(path, "Fn::ForEach::Topics")


def test_a_loop_outside_the_sections_that_expand_is_refused(tmp_path: Path) -> None:
    body = """\
    Parameters:
      'Fn::ForEach::Params':
        - Name
        - [A]
        - '${Name}': {Type: String}
    Resources:
      Topic: {Type: AWS::SNS::Topic}
    """
    error = fails(write(tmp_path, body, head=TRANSFORMS))
    assert "not expanded in Parameters" in str(error)


def test_a_nested_templates_loops_expand_over_what_its_parent_passes(tmp_path: Path) -> None:
    child = """\
    Parameters:
      Names: {Type: CommaDelimitedList, Default: "x"}
    Resources:
      'Fn::ForEach::Topics':
        - Name
        - !Ref Names
        - 'Topic${Name}': {Type: AWS::SNS::Topic}
    """
    write(tmp_path, child, name="child.yaml", head=TRANSFORMS)
    parent = """\
    Resources:
      App:
        Type: AWS::Serverless::Application
        Properties:
          Location: child.yaml
          Parameters: {Names: "a,b"}
    """
    app = load(write(tmp_path, parent, head=TRANSFORMS))
    assert list(app.services) == ["AppTopica", "AppTopicb"]
