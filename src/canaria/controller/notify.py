"""Deployment notifications: webhooks that receive CodeDeploy's trigger payload.

CodeDeploy publishes triggers to SNS; canaria POSTs the same fields as JSON to the URLs a
function's ``DeploymentPreference.TriggerConfigurations`` name. Delivery is best effort
with a short timeout, off the request path; failures are recorded as deployment events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import urllib.request
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


def _post(url: str, body: bytes, timeout: float) -> int:
    req = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return int(resp.status)


async def send_webhooks(d: Deployment, event: str, timeout: float = 5.0) -> list[str]:
    """POST the trigger payload to every trigger of ``d`` subscribed to ``event``."""
    problems = []
    for trigger in d.triggers:
        if event not in trigger.get("events", ()) and "DeploymentAll" not in trigger.get(
            "events", ()
        ):
            continue
        body = json.dumps(trigger_payload(d, event, trigger["name"])).encode()
        try:
            await asyncio.to_thread(_post, trigger["target"], body, timeout)
        except Exception as exc:  # best effort: report, never break the deployment
            problems.append(f"webhook {trigger['target']} failed: {exc}")
            log.warning("webhook %s for %s failed: %s", trigger["target"], d.id, exc)
    return problems
