"""Webhooks for guarded deployments, as for local ones: a JSON POST in the shape of
CodeDeploy's trigger notification, plus what the guard decided and did. Best effort with
a short timeout; a failure becomes a guard event, nothing else."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Sequence
from typing import Any

from canaria.guard.model import GuardRecord

__all__ = ["guard_payload", "send"]


def guard_payload(r: GuardRecord, event: str) -> dict[str, Any]:
    return {
        "eventTriggerName": "canaria-guard",
        "eventType": event,  # "DeploymentStop" once acted, "CanariaVerdict" for a dry run
        "applicationName": r.application,
        "deploymentId": r.deployment_id,
        "deploymentGroupName": r.group,
        "status": r.status.value.upper(),
        "canaria": {
            "function": r.function,
            "alias": r.alias,
            "currentVersion": r.current_version,
            "targetVersion": r.target_version,
            "verdict": r.verdict,
            "evidence": r.judge.get("evidence", {}),
            "action": r.action,
            "actionStatus": r.action_status.value,
            "answer": r.answer,
            "mode": r.mode.value,
        },
    }


def send(urls: Sequence[str], payload: dict[str, Any], timeout_s: float = 5.0) -> list[str]:
    """POST ``payload`` to every URL; the problems, one line each."""
    problems: list[str] = []
    body = json.dumps(payload).encode()
    for url in urls:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                resp.read()
        except (OSError, ValueError) as exc:
            problems.append(f"webhook {url}: {exc}")
    return problems
