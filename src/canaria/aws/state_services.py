"""Step Functions tasks that call an AWS service: the optimized integrations
(``arn:aws:states:::dynamodb:putItem``, ``sqs:sendMessage``, ``sns:publish``,
``events:putEvents``, ...) and the AWS SDK integrations (``arn:aws:states:::aws-sdk:s3:getObject``)
of the services canaria serves.

The task's ``Parameters`` are the API's request, as on AWS (``TableName``, ``Item`` in
DynamoDB's attribute-value form, ``QueueUrl``, ``MessageBody``, ...; an optimized
integration's message or event detail may be JSON, sent as its text); the call goes through
botocore to the engine that serves the service here (DynamoDB: the supervised dynalite;
the others: the services relay in front of moto), and the task's result is the API's
response without botocore's ``ResponseMetadata``. A service error fails the task with
Step Functions' name for it, ``<Service>.<code>`` (``DynamoDB.ConditionalCheckFailedException``;
AWS SDK integrations: ``DynamoDb.…``, ``S3.NoSuchKeyException``), so ``Retry`` and
``Catch`` written for AWS match it; a request botocore refuses (a missing or mistyped
parameter) fails it with ``States.Runtime`` and botocore's words.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.response import StreamingBody

from canaria import workflows
from canaria.models.arns import REGION


class ServiceTasks:
    """Runs ``aws_service`` / ``aws_sdk`` tasks against this machine's engines.
    ``endpoint`` names the URL that serves a botocore service name."""

    def __init__(self, endpoint: Callable[[str], str], access_key: str, secret_key: str) -> None:
        self._endpoint = endpoint
        self._keys = (access_key, secret_key)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    async def run(self, resource: str, parameters: Any) -> Any:
        call = workflows.service_call(resource)
        sdk = workflows.resource_kind(resource) == "aws_sdk"
        if not isinstance(parameters, Mapping):
            raise workflows.TaskFailed(
                "States.Runtime", f"{resource} needs an object of Parameters (the API's request)"
            )
        params = dict(parameters) if sdk else _optimized(call, dict(parameters))
        return await asyncio.to_thread(self._call, call, params, sdk)

    def _call(self, call: workflows.ServiceCall, params: dict[str, Any], sdk: bool) -> Any:
        client = self._client(call.service)
        if call.action not in client.meta.service_model.operation_names:
            raise workflows.TaskFailed(
                "States.Runtime", f"{call.service} has no action {call.action!r}"
            )
        method = getattr(client, xform_name(call.action))
        operation = client.meta.service_model.operation_model(call.action)
        params = _to_shape(params, operation.input_shape)
        try:
            out = method(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "Unknown")
            if sdk and not code.endswith("Exception"):
                code += "Exception"
            raise workflows.TaskFailed(
                f"{call.error_prefix}.{code}", str(error.get("Message") or exc)
            ) from None
        except (BotoCoreError, TypeError) as exc:  # a request botocore refuses, no engine
            raise workflows.TaskFailed(
                "States.Runtime", f"{call.service}:{call.action}: {exc}"
            ) from None
        out.pop("ResponseMetadata", None)
        return _plain(_from_shape(out, operation.output_shape))

    def _client(self, service: str) -> Any:
        endpoint = self._endpoint(service)
        key = (service, endpoint)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import boto3

                client = self._clients[key] = boto3.session.Session().client(
                    service,
                    endpoint_url=endpoint,
                    region_name=REGION,
                    aws_access_key_id=self._keys[0],
                    aws_secret_access_key=self._keys[1],
                    config=Config(retries={"max_attempts": 1}, inject_host_prefix=False),
                )
            return client


def _optimized(call: workflows.ServiceCall, params: dict[str, Any]) -> dict[str, Any]:
    """An optimized integration's request as the API takes it: the message of SQS
    ``sendMessage`` and SNS ``publish``, and each EventBridge ``putEvents`` entry's
    ``Detail``, and a nested execution's ``Input`` (``states:startExecution``), may be
    written as JSON in the state machine; Step Functions sends it as the JSON text the API
    wants."""
    match (call.service, call.action):
        case ("sqs", "SendMessage"):
            params["MessageBody"] = _text(params.get("MessageBody"))
        case ("sns", "Publish"):
            params["Message"] = _text(params.get("Message"))
        case ("stepfunctions", "StartExecution") if "Input" in params:
            params["Input"] = _text(params["Input"])  # a nested execution's input: an object
        case ("events", "PutEvents") if isinstance(params.get("Entries"), list):
            params["Entries"] = [
                {**e, "Detail": _text(e["Detail"])} if isinstance(e, dict) and "Detail" in e else e
                for e in params["Entries"]
            ]
    return params


def _to_shape(value: Any, shape: Any) -> Any:
    """A task's parameters as botocore's shape names them: Step Functions writes every
    member name in PascalCase (``StateMachineArn``), where an API such as Step Functions'
    own names it in camelCase (``stateMachineArn``). A map's keys are the caller's own."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        members = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            name = members.get(key.lower(), key) if isinstance(key, str) else key
            member = shape.members.get(name)
            out[name] = _to_shape(item, member)
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_shape(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {k: _to_shape(v, shape.value) for k, v in value.items()}
    return value


def _from_shape(value: Any, shape: Any) -> Any:
    """An API's response with its member names in PascalCase, as Step Functions gives a
    task's result (``ExecutionArn`` for Step Functions' ``executionArn``)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, Mapping):
        return {
            (k[:1].upper() + k[1:] if k in shape.members else k): _from_shape(
                v, shape.members.get(k)
            )
            for k, v in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_from_shape(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, Mapping):
        return {k: _from_shape(v, shape.value) for k, v in value.items()}
    return value


def _text(value: Any) -> Any:
    if isinstance(value, (dict, list, int, float, bool)) and value is not None:
        return json.dumps(value, separators=(",", ":"))
    return value


def _plain(value: Any) -> Any:
    """A botocore response as JSON values: timestamps as ISO 8601, binary as base64, a
    streamed body (S3 GetObject) as its text."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, StreamingBody):
        return value.read().decode("utf-8", "replace")
    return value


__all__ = ["ServiceTasks"]
