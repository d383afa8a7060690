"""What is refused at load, always with the state's name and the feature."""

from __future__ import annotations

import json
from typing import Any

import pytest

from canaria.errors import CanariaError
from canaria.workflows import (
    DefinitionError,
    ServiceCall,
    load_definition,
    resource_kind,
    service_call,
    unserved_tasks,
)
from canaria.workflows.resources import history_resource
from canaria.workflows.states import ChoiceState, MapState, TaskState

FN = "arn:aws:lambda:us-east-1:123456789012:function:save"


def machine(**state: Any) -> dict[str, Any]:
    return {"StartAt": "S", "States": {"S": state, "Done": {"Type": "Succeed"}}}


def task(**extra: Any) -> dict[str, Any]:
    return machine(Type="Task", Resource=FN, Next="Done", **extra)


def distributed(**extra: Any) -> dict[str, Any]:
    processor = {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P",
        "States": {"P": {"Type": "Succeed"}},
    }
    return machine(Type="Map", ItemProcessor=processor, End=True, **extra)


def refused(definition: Any) -> str:
    with pytest.raises(DefinitionError) as err:
        load_definition(definition)
    assert err.value.http_status == 400 and err.value.code == "InvalidDefinition"
    assert isinstance(err.value, CanariaError)
    return str(err.value)


def test_loads_a_full_definition_from_json_text() -> None:
    text = json.dumps(
        {
            "Comment": "c",
            "StartAt": "T",
            "TimeoutSeconds": 60,
            "States": {
                "T": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": FN, "Payload.$": "$"},
                    "Retry": [{"ErrorEquals": ["States.ALL"]}],
                    "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C", "ResultPath": None}],
                    "Next": "C",
                },
                "C": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.x", "IsPresent": True, "Next": "M"}],
                    "Default": "M",
                },
                "M": {
                    "Type": "Map",
                    "ItemsPath": "$.items",
                    "MaxConcurrency": 2,
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "INLINE"},
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                },
                "Unreachable": {"Type": "Succeed"},
            },
        }
    )
    sm = load_definition(text)
    assert sm.start_at == "T" and sm.timeout_seconds == 60
    t = sm.states["T"]
    assert isinstance(t, TaskState) and t.kind == "lambda_invoke"
    assert t.retry[0].interval_seconds == 1 and t.retry[0].max_attempts == 3
    assert t.retry[0].backoff_rate == 2.0
    assert t.catch[0].result_path is None
    assert isinstance(sm.states["C"], ChoiceState)
    m = sm.states["M"]
    assert isinstance(m, MapState) and m.max_concurrency == 2 and m.items_path.text == "$.items"


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"States": {"S": {"Type": "Succeed"}}}, "has no StartAt"),
        ({"StartAt": "S", "States": {}}, "has no States"),
        ({"StartAt": "X", "States": {"S": {"Type": "Succeed"}}}, "StartAt names a missing state"),
        (
            machine(Type="Pass", Next="Nowhere"),
            "state \"S\": Next points to a missing state 'Nowhere'",
        ),
        (machine(Type="Task", Next="Done"), 'state "S": a Task needs a Resource'),
        (machine(Type="Pass"), 'state "S": a state needs a Next or End'),
        (machine(Type="Pass", Next="Done", End=True), "both Next and End"),
        (machine(Type="Bogus"), "unknown Type 'Bogus'"),
        (machine(Type="Pass", End=True, Foo=1), "unknown field(s): Foo"),
        (machine(Type="Succeed", Next="Done"), "cannot have Next or End"),
        (
            task(Parameters={"x.$": "States.Foo($.a)"}),
            'state "S": Parameters.x.$: States.Foo: unsupported intrinsic',
        ),
        (task(Parameters={"x.$": "nope"}), "Parameters.x.$"),
        (task(Parameters={"x.$": 5}), "must be a path or an intrinsic"),
        (task(InputPath="$..a"), "InputPath"),
        (task(ResultPath="$.a[*]"), "ResultPath"),
        (
            task(Retry=[{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]),
            'state "S": States.ALL must be alone in ErrorEquals and in the last retrier',
        ),
        (
            task(Catch=[{"ErrorEquals": ["States.ALL", "X"], "Next": "Done"}]),
            "States.ALL must be alone",
        ),
        (task(Catch=[{"ErrorEquals": ["X"], "Next": "Gone"}]), "Catch Next points to a missing"),
        (task(Retry=[{"ErrorEquals": []}]), "non-empty ErrorEquals"),
        (task(Retry=[{"ErrorEquals": ["X"], "BackoffRate": 0.5}]), "BackoffRate"),
        (task(Retry=[{"ErrorEquals": ["X"], "JitterStrategy": "SOME"}]), "JitterStrategy"),
        (task(TimeoutSeconds=0), "TimeoutSeconds must be a positive integer"),
        (task(Credentials={"RoleArn": "x"}), "Credentials is not supported"),
        (task(Arguments={}), "JSONata Arguments is not supported"),
        (task(QueryLanguage="JSONata"), "QueryLanguage 'JSONata' is not supported"),
        ({**task(), "QueryLanguage": "JSONata"}, "QueryLanguage 'JSONata' is not supported"),
        (
            machine(Type="Task", Resource="arn:aws:states:::dynamodb:scan", Next="Done"),
            "state \"S\": resource 'arn:aws:states:::dynamodb:scan': the dynamodb:scan "
            "service integration is not supported",
        ),
        (
            machine(
                Type="Task", Resource="arn:aws:states:::http:invoke.waitForTaskToken", End=True
            ),
            "http:invoke has no waitForTaskToken pattern",
        ),
        (
            machine(Type="Task", Resource="arn:aws:states:::states:startExecution.sync", End=True),
            "sync integration pattern",
        ),
        (
            machine(
                Type="Choice",
                Choices=[{"Variable": "$.a", "StringEq": "x", "Next": "Done"}],
            ),
            'state "S": Choice rule uses unknown operator "StringEq"',
        ),
        (machine(Type="Choice", Choices=[]), "non-empty Choices"),
        (
            machine(Type="Choice", Choices=[{"Variable": "$.a", "IsNull": True}]),
            "needs a Next",
        ),
        (
            machine(
                Type="Choice",
                Choices=[{"Variable": "$.a", "IsNull": True, "Next": "Done"}],
                Default="Gone",
            ),
            "Default points to a missing state 'Gone'",
        ),
        (machine(Type="Wait", Next="Done"), "exactly one of Seconds"),
        (machine(Type="Wait", Seconds=1, SecondsPath="$.s", Next="Done"), "exactly one of"),
        (machine(Type="Wait", Timestamp="tomorrow", Next="Done"), "not RFC 3339"),
        (machine(Type="Fail", Error="E", ErrorPath="$.e"), "use Error or ErrorPath"),
        (machine(Type="Parallel", Branches=[], End=True), "non-empty Branches"),
        (
            machine(
                Type="Parallel",
                Branches=[{"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Done"}}}],
                End=True,
            ),
            "Next points to a missing state 'Done'",
        ),
        (
            machine(
                Type="Map",
                ItemReader={"Resource": "arn:aws:states:::s3:getObject"},
                ItemProcessor={"StartAt": "P", "States": {"P": {"Type": "Succeed"}}},
                End=True,
            ),
            'state "S": ItemReader needs ProcessorConfig Mode DISTRIBUTED',
        ),
        (distributed(ItemReader={"Resource": "arn:aws:states:::s3:getObject"}), "InputType"),
        (
            distributed(ItemReader={"Resource": "arn:aws:states:::s3:getObject", "X": 1}),
            "ItemReader field 'X' is not supported",
        ),
        (
            distributed(ItemReader={"Resource": "arn:aws:states:::dynamodb:scan"}),
            "canaria reads arn:aws:states:::s3:getObject",
        ),
        (
            distributed(ItemReader={"Resource": "getObject", "ReaderConfig": {"InputType": "CSV"}}),
            "ItemReader Resource 'getObject'",
        ),
        (
            distributed(
                ItemReader={
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "MANIFEST"},
                }
            ),
            "canaria reads CSV, JSON and JSONL objects",
        ),
        (
            distributed(
                ItemReader={
                    "Resource": "arn:aws:states:::s3:getObject",
                    "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN"},
                }
            ),
            "GIVEN needs CSVHeaders",
        ),
        (
            distributed(
                ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2"}, ItemsPath="$.x"
            ),
            "use ItemReader or ItemsPath, not both",
        ),
        (distributed(ItemBatcher={"MaxItemsPerBatch": 2}), "Distributed Map ItemBatcher"),
        (
            machine(
                Type="Map",
                ItemProcessor={
                    "ProcessorConfig": {"Mode": "SPREAD"},
                    "StartAt": "P",
                    "States": {"P": {"Type": "Succeed"}},
                },
                End=True,
            ),
            "expected INLINE or DISTRIBUTED",
        ),
        (machine(Type="Map", End=True), "exactly one of Iterator or ItemProcessor"),
        ("{not json", "not valid JSON"),
    ],
)
def test_refusals(definition: Any, message: str) -> None:
    assert message in refused(definition)


@pytest.mark.parametrize(
    ("resource", "kind"),
    [
        (FN, "lambda_function"),
        (f"{FN}:prd", "lambda_function"),
        ("save-company", "lambda_function"),
        ("arn:aws:states:::lambda:invoke", "lambda_invoke"),
        ("arn:aws:states:::apigateway:invoke", "apigateway_invoke"),
        ("arn:aws:states:::http:invoke", "http_invoke"),
        ("arn:aws:states:::dynamodb:putItem", "aws_service"),
        ("arn:aws:states:::sqs:sendMessage", "aws_service"),
        ("arn:aws:states:::events:putEvents", "aws_service"),
        ("arn:aws:states:::aws-sdk:s3:getObject", "aws_sdk"),
        ("arn:aws:states:::aws-sdk:eventbridge:putEvents", "aws_sdk"),
    ],
)
def test_resource_kind(resource: str, kind: str) -> None:
    assert resource_kind(resource) == kind


@pytest.mark.parametrize(
    ("resource", "call", "history"),
    [
        (
            "arn:aws:states:::dynamodb:updateItem",
            ServiceCall("dynamodb", "UpdateItem", "DynamoDB"),
            ("dynamodb", "updateItem"),
        ),
        (
            "arn:aws:states:::sns:publish",
            ServiceCall("sns", "Publish", "SNS"),
            ("sns", "publish"),
        ),
        (
            "arn:aws:states:::aws-sdk:eventbridge:putEvents",
            ServiceCall("events", "PutEvents", "EventBridge"),
            ("aws-sdk:eventbridge", "putEvents"),
        ),
        (
            "arn:aws:states:::aws-sdk:secretsmanager:getSecretValue",
            ServiceCall("secretsmanager", "GetSecretValue", "SecretsManager"),
            ("aws-sdk:secretsmanager", "getSecretValue"),
        ),
    ],
)
def test_service_calls_and_their_history_names(
    resource: str, call: ServiceCall, history: tuple[str, str]
) -> None:
    assert service_call(resource) == call
    assert history_resource(resource, resource_kind(resource)) == history


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ("arn:aws:states:::dynamodb:scan", "the dynamodb:scan service integration is not"),
        ("arn:aws:states:::sqs:receiveMessage", "dynamodb:putItem, dynamodb:updateItem"),
        ("arn:aws:states:::aws-sdk:s3:Get-Object", "'Get-Object' is not an action name"),
        ("arn:aws:states:::aws-sdk:Ec2:runInstances", "'Ec2' is not a service"),
    ],
)
def test_service_integrations_canaria_does_not_call_are_refused(
    resource: str, message: str
) -> None:
    assert message in refused(machine(Type="Task", Resource=resource, End=True))


def test_activities_are_refused() -> None:
    message = refused(
        machine(
            Type="Task",
            Resource="arn:aws:states:us-east-1:123456789012:activity:review",
            End=True,
        )
    )
    assert "activities are not supported" in message


def test_integrations_with_services_canaria_does_not_serve_are_accepted_and_named() -> None:
    """Step Functions accepts any of its integrations; canaria too, and names each task
    that will fail when it runs because canaria does not serve its service."""
    sdk = "arn:aws:states:::aws-sdk:comprehend:detectSentiment"
    definition = {
        "StartAt": "P",
        "States": {
            "P": {
                "Type": "Parallel",
                "End": True,
                "Branches": [
                    {
                        "StartAt": "Sentiment",
                        "States": {"Sentiment": {"Type": "Task", "Resource": sdk, "End": True}},
                    },
                    {
                        "StartAt": "Glue",
                        "States": {
                            "Glue": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::glue:startJobRun",
                                "Next": "Ecs",
                            },
                            "Ecs": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
                                "Next": "Nested",
                            },
                            "Nested": {
                                "Type": "Task",
                                "Resource": "arn:aws:states:::states:startExecution",
                                "End": True,
                            },
                        },
                    },
                ],
            }
        },
    }
    assert unserved_tasks(load_definition(definition)) == [
        ("Sentiment", sdk),
        ("Glue", "arn:aws:states:::glue:startJobRun"),
        ("Ecs", "arn:aws:states:::ecs:runTask.waitForTaskToken"),
    ]
    assert service_call(sdk) == ServiceCall("comprehend", "DetectSentiment", "Comprehend", False)
    assert service_call("arn:aws:states:::glue:startJobRun") == ServiceCall(
        "glue", "StartJobRun", "Glue", False
    )
    assert service_call("arn:aws:states:::states:startExecution") == ServiceCall(
        "stepfunctions", "StartExecution", "StepFunctions"
    )
    assert service_call("arn:aws:states:::aws-sdk:sfn:describeExecution") == ServiceCall(
        "stepfunctions", "DescribeExecution", "Sfn"
    )
