"""Deployment notifications: CodeDeploy's trigger payload, to SNS topics and webhooks.

CodeDeploy publishes a trigger to the SNS topic a function's
``DeploymentPreference.TriggerConfigurations`` name: canaria publishes the same message to
that topic in its services engine (whatever subscribes to it there gets it: a queue, a
function's SNS event), and POSTs it as JSON to a trigger whose target is an http(s) URL.
Delivery is best effort with a short timeout, off the request path; failures are recorded
as deployment events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from canaria.models.deployment import Deployment

log = logging.getLogger("canaria.notify")

ACCOUNT = "123456789012"
REGION = "us-east-1"


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).strftime("%a %b %d %H:%M:%S UTC %Y")


def trigger_payload(d: Deployment, event: str, trigger_name: str) -> dict[str, Any]:
    """The fields CodeDeploy puts in a trigger notification."""
    status = {
        "DeploymentStart": "CREATED",
        "DeploymentSuccess": "SUCCEEDED",
        "DeploymentFailure": "FAILED",
        "DeploymentStop": "STOPPED",
        "DeploymentRollback": "STOPPED" if d.state.value == "Stopped" else "FAILED",
        "DeploymentReady": "READY",
    }.get(event, d.state.codedeploy_status.upper())
    info: dict[str, Any] = {
        "region": REGION,
        "accountId": ACCOUNT,
        "eventTriggerName": trigger_name,
        "applicationName": d.application,
        "deploymentId": d.id,
        "deploymentGroupName": ",".join(t.function for t in d.targets),
        "createTime": _iso(d.created_at),
        "completeTime": _iso(d.completed_at),
        "deploymentOverview": json.dumps(
            {
                "Succeeded": 1 if d.state.value == "Succeeded" else 0,
                "Failed": 1 if d.state.value == "Failed" else 0,
                "Skipped": 0,
                "InProgress": 0 if d.state.completed else 1,
                "Pending": 0,
            }
        ),
        "status": status,
        "eventType": event,
    }
    if d.error_code:
        info["errorInformation"] = json.dumps(
            {"ErrorCode": d.error_code, "ErrorMessage": d.error_message}
        )
    return info


# publishes (topic ARN, subject, message) to an SNS topic
Publish = Callable[[str, str, str], Awaitable[None]]


def sns_subject(d: Deployment, payload: dict[str, Any]) -> str:
    """The subject CodeDeploy gives a trigger's SNS message (at most SNS's 100 characters)."""
    text = f"{payload['status']}: AWS CodeDeploy {d.id} in {REGION} to {d.application}"
    return text[:100]


def _post(url: str, body: bytes, timeout: float) -> int:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return int(resp.status)


async def send_notifications(
    d: Deployment, event: str, publish: Publish | None = None, timeout: float = 5.0
) -> list[str]:
    """Deliver the trigger payload to every trigger of ``d`` subscribed to ``event``: an
    SNS topic through ``publish``, a URL by POST. What failed, in words."""
    problems = []
    for trigger in d.triggers:
        events = trigger.get("events", ())
        if event not in events and "DeploymentAll" not in events:
            continue
        payload = trigger_payload(d, event, trigger["name"])
        target = trigger["target"]
        try:
            if target.startswith("arn:aws:sns:"):
                if publish is None:
                    raise RuntimeError("no services engine to publish to")
                message = json.dumps(payload)
                await asyncio.wait_for(publish(target, sns_subject(d, payload), message), timeout)
            else:
                await asyncio.to_thread(_post, target, json.dumps(payload).encode(), timeout)
        except Exception as exc:  # best effort: report, never break the deployment
            kind = "topic" if target.startswith("arn:") else "webhook"
            problems.append(f"trigger {trigger['name']}: {kind} {target} failed: {exc}")
            log.warning("trigger %s of %s to %s failed: %s", trigger["name"], d.id, target, exc)
    return problems
