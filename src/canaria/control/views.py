"""JSON views of platform state, shared by the control API, the CLI and the dashboard."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canaria.models import (
    Alias,
    ApiKeySpec,
    EventSource,
    EventSourceKind,
    RouteSpec,
    ServiceResource,
    StreamEventSource,
    UserPoolClientSpec,
    UserPoolSpec,
    Version,
    WebSocketApiSpec,
)
from canaria.models.deployment import Deployment, DeploymentEvent, HookExecution
from canaria.models.integrations import IntegrationSpec
from canaria.store.codec import judge_to_dict, step_label


def alias_view(a: Alias) -> dict[str, Any]:
    return {
        "function": a.function,
        "name": a.name,
        "version": a.version,
        "additional_version": a.additional_version,
        "additional_weight": a.additional_weight,
        "split": {str(v): round(w, 6) for v, w in a.weights().items()},
    }


def version_view(v: Version) -> dict[str, Any]:
    return {
        "function": v.function,
        "number": v.number,
        "digest": v.digest,
        "created_at": v.created_at,
        "handler": v.config.handler,
        "runtime": v.config.runtime,
        "timeout_s": v.config.timeout_s,
        "memory_mb": v.config.memory_mb,
    }


def route_view(r: RouteSpec) -> dict[str, Any]:
    return {
        "method": r.method,
        "path": r.path,
        "api": r.api_id,
        "kind": r.api_kind,
        "stage": r.stage,
        "function": r.function,
        "authorizer": None if r.authorizer is None else r.authorizer.name,
        "integration": None if r.integration is None else integration_text(r.integration),
        "api_key_required": r.api_keys is not None,
    }


def api_key_view(k: ApiKeySpec) -> dict[str, Any]:
    """An API key as ``canaria status`` lists it: its value is what a client sends in
    ``x-api-key`` (None: generated, and not known to this loading of the template)."""
    return {
        "name": k.name,
        "logical_id": k.logical_id,
        "id": k.id,
        "value": k.value,
        "enabled": k.enabled,
        "generated": k.generated,
        "stages": [{"api": api, "stage": stage} for api, stage in k.stages],
    }


def user_pool_views(resources: Mapping[str, ServiceResource]) -> list[dict[str, Any]]:
    """The template's Cognito user pools as ``canaria status`` lists them: each pool's id,
    its app clients' ids and the triggers canaria runs (what a test signs in with)."""
    return [
        {
            "logical_id": r.logical_id,
            "name": r.name,
            "id": r.id,
            "clients": [
                {"logical_id": c.logical_id, "name": c.name, "id": c.id}
                for c in resources.values()
                if isinstance(c, UserPoolClientSpec) and c.pool_id == r.id
            ],
            "triggers": dict(r.triggers),
        }
        for r in resources.values()
        if isinstance(r, UserPoolSpec)
    ]


def integration_text(i: IntegrationSpec) -> str:
    """What a route that is not a Lambda proxy calls: ``dynamodb:GetItem``, ``mock``,
    ``sqs path 123456789012/orders``, ``SQS-SendMessage``, ``Quote (mapping templates)``."""
    if i.kind == "aws" and i.aws is not None:
        if i.aws.action is not None:
            return f"{i.aws.service}:{i.aws.action}"
        return f"{i.aws.service} path /{i.aws.path}"
    if i.kind == "lambda":
        return f"{i.function} (mapping templates)"
    if i.kind == "service":
        return str(i.subtype)
    if i.kind in ("http", "http_proxy"):
        return f"{i.kind.upper()} {i.url}"
    return i.kind


def websocket_route_views(apis: Mapping[str, WebSocketApiSpec], function: str) -> list[Any]:
    """The WebSocket routes that invoke ``function``."""
    return [
        {
            "api": api.logical_id,
            "stage": api.stage,
            "route": r.key,
            "two_way": r.two_way,
            "authorizer": None if r.authorizer is None else r.authorizer.name,
        }
        for api in apis.values()
        for r in api.routes
        if r.function == function
    ]


def source_view(s: EventSource) -> dict[str, Any]:
    """What feeds a function besides its routes: the event's kind, its name under
    ``Events``, the queue, stream or table read (None where canaria adds the queue itself: an
    SNS, EventBridge or S3 event), and whether it is enabled."""
    if isinstance(s, StreamEventSource):
        kind = "DynamoDB" if s.kind == "dynamodb" else "Kinesis"
        return {"kind": kind, "event": s.event, "source": s.stream_name, "enabled": s.enabled}
    source = s.queue_name if s.kind is EventSourceKind.SQS else None
    return {"kind": s.kind.value, "event": s.event, "source": source, "enabled": s.enabled}


def function_sources(sources: tuple[EventSource, ...], function: str) -> list[dict[str, Any]]:
    """``source_view`` of each event source that invokes ``function``."""
    return [
        source_view(s)
        for s in sources
        if s.function == function and getattr(s, "state_machine", None) is None
    ]


def deployment_view(d: Deployment) -> dict[str, Any]:
    return {
        "id": d.id,
        "application": d.application,
        "state": d.state.value,
        "status": d.state.codedeploy_status,
        "completed": d.state.completed,
        "targets": [
            {
                "function": t.function,
                "alias": t.alias,
                "from_version": t.from_version,
                "to_version": t.to_version,
            }
            for t in d.targets
        ],
        "config": d.config_name,
        "steps": [step_label(s) for s in d.steps],
        "step_index": d.step_index,
        "step_started_at": d.step_started_at,
        "current_weight": d.current_weight,
        "rolled_back": d.rolled_back,
        "ignore_alarms": d.ignore_alarms,
        "alarms": list(d.alarms),
        "hooks": {"pre_traffic": d.pre_traffic_hook, "post_traffic": d.post_traffic_hook},
        "judge": {k: v for k, v in judge_to_dict(d.judge).items() if k != "state"},
        "error_code": d.error_code,
        "error_message": d.error_message,
        "stopped_by": d.stopped_by,
        "creator": d.creator,
        "rollback_of": d.rollback_of,
        "revision": d.revision,
        "created_at": d.created_at,
        "updated_at": d.updated_at,
        "completed_at": d.completed_at,
    }


def event_view(e: DeploymentEvent) -> dict[str, Any]:
    return {"id": e.id, "time": e.time, "kind": e.kind, "message": e.message, "data": e.data}


def hook_view(h: HookExecution) -> dict[str, Any]:
    return {
        "execution_id": h.execution_id,
        "phase": h.phase,
        "function": h.function,
        "status": h.status.value,
        "started_at": h.started_at,
        "finished_at": h.finished_at,
        "deadline": h.deadline,
        "message": h.message,
    }
