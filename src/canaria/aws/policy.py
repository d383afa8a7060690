"""What each caller of the edge may do.

The operator (the token's keys) may call every operation. A function's keys allow what
a Lambda execution role for such an application would, and nothing that changes how
traffic is routed or how a deployment goes:

- Lambda: ``Invoke``, ``InvokeWithResponseStream``, ``GetFunction``, ``GetFunctionConfiguration``,
  ``ListFunctions``, ``ListVersionsByFunction``, ``GetAlias``, ``ListAliases`` (a
  PreTraffic hook invokes the new version; code may read its configuration), and the
  durable execution API (a durable function's SDK checkpoints; code reads, stops and
  completes executions: a human-approval callback is sent by another function);
- CodeDeploy: ``PutLifecycleEventHookExecutionStatus`` for a hook execution the caller
  was invoked for (the hook function of that execution, as SAM's generated hook role
  allows), and ``GetDeployment``;
- Step Functions: start, describe, list, stop executions and read their history, and
  describe or list state machines (a PostTraffic hook runs an integration test);
- API Gateway: ``execute-api:ManageConnections`` (post to, read and close the
  connections of a WebSocket API);
- CloudWatch: ``PutMetricData`` (code publishes its own metrics, which alarms watch),
  ``DescribeAlarms`` and ``GetMetricData`` (a hook checks the release's alarms and metrics
  before it reports);
- CloudFormation: the stack's reads (``DescribeStacks``, ``ListStackResources``,
  ``DescribeStackResource(s)``, ``ListExports``: a hook or a test finds what it calls);
- CloudWatch Logs: every operation the edge serves (code writes and reads log groups);
- Firehose: ``PutRecord``, ``PutRecordBatch``, ``DescribeDeliveryStream``,
  ``ListDeliveryStreams`` (code sends records to the template's delivery streams).

Everything else (``UpdateAlias``, ``PublishVersion``, ``StopDeployment``, ``SetAlarmState``,
creating state machines, any operation added later) is refused with
``AccessDeniedException``, worded as AWS words it. The list is an allow-list on purpose:
a new operation is closed to functions until it is added here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.auth import Principal
from canaria.errors import NotFound
from canaria.store import Store

FUNCTION_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        ("lambda", "Invoke"),
        ("lambda", "InvokeWithResponseStream"),
        ("lambda", "GetFunction"),
        ("lambda", "GetFunctionConfiguration"),
        ("lambda", "ListVersionsByFunction"),
        ("lambda", "GetAlias"),
        ("lambda", "ListAliases"),
        ("lambda", "ListFunctions"),
        # durable functions: their SDK checkpoints and reads its state; code reads, stops
        # and completes executions (AWSLambdaBasicDurableExecutionRolePolicy and beyond)
        ("lambda", "CheckpointDurableExecution"),
        ("lambda", "GetDurableExecutionState"),
        ("lambda", "GetDurableExecution"),
        ("lambda", "GetDurableExecutionHistory"),
        ("lambda", "ListDurableExecutionsByFunction"),
        ("lambda", "StopDurableExecution"),
        ("lambda", "SendDurableExecutionCallbackSuccess"),
        ("lambda", "SendDurableExecutionCallbackFailure"),
        ("lambda", "SendDurableExecutionCallbackHeartbeat"),
        ("codedeploy", "PutLifecycleEventHookExecutionStatus"),
        ("codedeploy", "GetDeployment"),
        ("states", "StartExecution"),
        ("states", "StartSyncExecution"),
        ("states", "DescribeExecution"),
        ("states", "StopExecution"),
        ("states", "ListExecutions"),
        ("states", "GetExecutionHistory"),
        ("states", "DescribeStateMachine"),
        ("states", "ListStateMachines"),
        # a worker that holds a callback task's token sends its outcome
        ("states", "SendTaskSuccess"),
        ("states", "SendTaskFailure"),
        ("states", "SendTaskHeartbeat"),
        ("execute-api", "ManageConnections"),
        ("cloudwatch", "PutMetricData"),
        ("cloudwatch", "DescribeAlarms"),
        ("cloudwatch", "GetMetricData"),
        ("cloudformation", "DescribeStacks"),
        ("cloudformation", "ListStackResources"),
        ("cloudformation", "DescribeStackResources"),
        ("cloudformation", "DescribeStackResource"),
        ("cloudformation", "ListExports"),
        ("logs", "CreateLogGroup"),
        ("logs", "DeleteLogGroup"),
        ("logs", "DescribeLogGroups"),
        ("logs", "PutRetentionPolicy"),
        ("logs", "DeleteRetentionPolicy"),
        ("logs", "CreateLogStream"),
        ("logs", "DescribeLogStreams"),
        ("logs", "PutLogEvents"),
        ("logs", "GetLogEvents"),
        ("logs", "FilterLogEvents"),
        ("firehose", "PutRecord"),
        ("firehose", "PutRecordBatch"),
        ("firehose", "DescribeDeliveryStream"),
        ("firehose", "ListDeliveryStreams"),
    }
)


def role_arn(function: str) -> str:
    return Principal(function).arn


def authorize(
    principal: Principal,
    service: str,
    operation: str,
    body: Mapping[str, Any] | None,
    store: Store,
) -> str | None:
    """``None`` when ``principal`` may call ``service:operation`` with ``body``, else the
    AccessDenied message."""
    if principal.function is None:
        return None
    fn = principal.function
    denied = (
        f"User: {role_arn(fn)} is not authorized to perform: {service}:{operation} "
        f"(canaria gives functions what a Lambda execution role allows; the operator's "
        f"keys may do this)"
    )
    if (service, operation) not in FUNCTION_ALLOWED:
        return denied
    if operation == "PutLifecycleEventHookExecutionStatus":
        execution_id = (body or {}).get("lifecycleEventHookExecutionId")
        if not isinstance(execution_id, str):
            return None  # the operation answers the missing field itself
        try:
            hook = store.hook(execution_id)
        except NotFound:
            return None  # so does an unknown id: no hint whether it exists elsewhere
        if hook.function != fn:
            return (
                f"User: {role_arn(fn)} is not authorized to perform: "
                f"codedeploy:PutLifecycleEventHookExecutionStatus on this hook execution "
                f"(only its hook function may report it)"
            )
    return None


__all__ = ["FUNCTION_ALLOWED", "authorize", "role_arn"]
