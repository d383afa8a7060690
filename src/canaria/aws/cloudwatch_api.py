"""CloudWatch alarms on the edge (JSON 1.0, ``GraniteServiceVersion20100801``, the
protocol current botocore speaks to CloudWatch): SetAlarmState and DescribeAlarms over
the template's alarms.

SetAlarmState behaves as on AWS: the state holds until the alarm's next evaluation
changes it, so an alarm driven from outside (``canaria guard --act alarm``) is declared
on a metric nothing publishes, with ``TreatMissingData: ignore``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import Response

from canaria.aws.arns import ACCOUNT, REGION
from canaria.aws.backend import EdgeBackend
from canaria.aws.responses import AMZ_JSON_10, json_error, json_response
from canaria.errors import NotFound
from canaria.models import AlarmSpec

Handler = Callable[[EdgeBackend, dict[str, Any]], Awaitable[Response]]

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")


def _error(code: str, message: str) -> Response:
    return json_error(code, message, AMZ_JSON_10)


async def set_alarm_state(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    name, state, reason = body.get("AlarmName"), body.get("StateValue"), body.get("StateReason")
    if not isinstance(name, str) or not name:
        return _error("ValidationError", "AlarmName is required")
    if state not in STATES:
        return _error("ValidationError", f"StateValue {state!r} (allowed: {', '.join(STATES)})")
    if not isinstance(reason, str) or len(reason) > 1023:
        return _error("ValidationError", "StateReason is required (at most 1023 characters)")
    try:
        await edge.set_alarm_state(name, str(state), reason)
    except NotFound:
        return _error("ResourceNotFound", f"Alarm {name} not found")
    return json_response({}, media_type=AMZ_JSON_10)


def _alarm(spec: AlarmSpec, states: dict[str, tuple[str, str, float]]) -> dict[str, Any]:
    state, reason, updated = states.get(spec.name, ("INSUFFICIENT_DATA", "", 0.0))
    out: dict[str, Any] = {
        "AlarmName": spec.name,
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{spec.name}",
        "ActionsEnabled": True,
        "StateValue": state,
        "StateReason": reason,
        "StateUpdatedTimestamp": updated,
        "MetricName": spec.metric_name,
        "Namespace": spec.namespace,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
        "Period": spec.period_s,
        "EvaluationPeriods": spec.evaluation_periods,
        "Threshold": spec.threshold,
        "ComparisonOperator": spec.comparison_operator,
        "TreatMissingData": spec.treat_missing_data,
    }
    if spec.statistic:
        out["Statistic"] = spec.statistic
    if spec.extended_statistic:
        out["ExtendedStatistic"] = spec.extended_statistic
    if spec.datapoints_to_alarm:
        out["DatapointsToAlarm"] = spec.datapoints_to_alarm
    return out


async def describe_alarms(edge: EdgeBackend, body: dict[str, Any]) -> Response:
    names = body.get("AlarmNames")
    if names is not None and (
        not isinstance(names, list) or not all(isinstance(n, str) for n in names)
    ):
        return _error("ValidationError", "AlarmNames must be a list of names")
    state = body.get("StateValue")
    if state is not None and state not in STATES:
        return _error("ValidationError", f"StateValue {state!r} (allowed: {', '.join(STATES)})")
    specs = edge.app.alarms if edge.app else {}
    states = edge.store.alarm_states()
    alarms = [
        _alarm(spec, states)
        for name, spec in sorted(specs.items())
        if names is None or name in names
    ]
    if state is not None:
        alarms = [a for a in alarms if a["StateValue"] == state]
    return json_response({"MetricAlarms": alarms, "CompositeAlarms": []}, media_type=AMZ_JSON_10)


OPERATIONS: dict[str, Handler] = {
    "SetAlarmState": set_alarm_state,
    "DescribeAlarms": describe_alarms,
}
