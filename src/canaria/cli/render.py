"""Rendering for the CLI: rich tables on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text


def ts(t: float | None) -> str:
    return "-" if t is None else time.strftime("%H:%M:%S", time.localtime(t))


def split_text(split: dict[str, float]) -> str:
    return "  ".join(f"v{v}:{w * 100:.4g}%" for v, w in split.items())


def status_tables(status: dict[str, Any]) -> Group:
    fns = Table(title=f"functions — {status.get('application')}", expand=False)
    for col in ("function", "alias", "split", "versions", "routes and sources", "cold starts"):
        fns.add_column(col)
    for name, f in status["functions"].items():
        aliases = f["aliases"] or [{"name": "$LATEST", "split": {}}]
        feeds = [
            *map(_route_text, f["routes"]),
            *map(_websocket_route_text, f.get("websocket_routes", [])),
            *map(source_text, f.get("sources", [])),
        ]
        routes = ", ".join(feeds) or "-"
        for a in aliases:
            fns.add_row(
                name,
                a["name"],
                split_text(a["split"]),
                str(len(f["versions"])),
                routes,
                str(f["cold_starts"]),
            )
    parts: list[Any] = [fns]
    # whole lines, never cut to a column's width: they are to be copied
    for name, url in status.get("function_urls", {}).items():
        parts.append(Text(f"function URL of {name}: {url}"))
    for name, f in status["functions"].items():
        if f.get("durable"):
            parts.append(Text(durable_text(name, f["durable"])))
    for route in status.get("integrations", []):
        parts.append(Text(f"{_route_text(route)} of {route['api']}: {route['integration']}"))
    for key in status.get("api_keys", []):
        parts.append(Text(f"API key {api_key_text(key)}"))
    for pool in status.get("user_pools", []):
        parts.append(Text(f"user pool {user_pool_text(pool)}"))
    for name, api in status.get("graphql", {}).items():
        keys = ", ".join(api["api_keys"])
        parts.append(
            Text(f"GraphQL API {name}: {api['url']}" + (f" (x-api-key {keys})" if keys else ""))
        )
    for name, listener in status.get("load_balancers", {}).items():
        parts.append(Text(f"load balancer listener {listener_text(name, listener)}"))
    for name, api in status.get("websockets", {}).items():
        n = api["connections"]
        parts.append(
            Text(f"WebSocket API {name}: {api['url']} ({n} connection{'' if n == 1 else 's'})")
        )
    published = status.get("published_metrics") or {}
    for fn, rejected in published.get("emf_rejected", {}).items():
        parts.append(
            Text(
                f"{fn}: {rejected['lines']} EMF line(s) published no metric "
                f"(last: {rejected['last_reason']})",
                style="yellow",
            )
        )
    if published.get("dropped"):
        parts.append(
            Text(f"{published['dropped']} published sample(s) dropped: over 10,000 metrics")
        )
    if status["alarms"]:
        alarms = Table(title="alarms")
        for col in ("alarm", "state", "reason"):
            alarms.add_column(col)
        for name, a in status["alarms"].items():
            style = "red" if a["state"] == "ALARM" else ""
            alarms.add_row(name, Text(a["state"], style=style), a["reason"])
        parts.append(alarms)
    for d in status["deployments"]:
        parts.append(deployment_panel(d))
    if not status["deployments"]:
        parts.append(Text("no deployment in progress"))
    if status.get("guarded"):
        parts.append(guarded_table(status["guarded"]))
    return Group(*parts)


def durable_text(name: str, durable: dict[str, Any]) -> str:
    """A durable function's line: what its executions may last, and how to list them."""
    return (
        f"durable function {name}: executions up to {durable['execution_timeout_s']} s, "
        f"kept {durable['retention_days']} days; canaria exec -- aws lambda "
        f"list-durable-executions-by-function --function-name {name}"
    )


def guarded_table(guarded: list[dict[str, Any]]) -> Table:
    """AWS CodeDeploy deployments watched by `canaria guard`."""
    t = Table(title="guarded AWS deployments (canaria guard)")
    for col in ("deployment", "function:alias", "versions", "status", "evidence", "decision"):
        t.add_column(col)
    for g in guarded:
        evidence = ", ".join(f"{m} {v:.3g}" for m, v in sorted(g["evidence"].items())) or "-"
        decision = g["verdict"] or "watching"
        if g["action"]:
            decision += f"; {g['action_status']}: {g['action']}"
            if g["answer"]:
                decision += f" → {g['answer']}"
        t.add_row(
            g["deployment_id"],
            f"{g['function']}:{g['alias']}",
            f"{g['current_version']} → {g['target_version']}"
            + (f" ({g['weight']:.0%})" if g.get("weight") is not None else ""),
            g["status"],
            evidence,
            Text(decision, style="red" if g["verdict"] == "ROLLBACK" else ""),
        )
    return t


def deployment_panel(d: dict[str, Any]) -> Table:
    moves = ", ".join(
        f"{t['function']}:{t['alias']} v{t['from_version']}→v{t['to_version']}"
        for t in d["targets"]
    )
    table = Table(title=f"{d['id']} {moves} [{d['config']}] — {d['state']}", expand=False)
    for col in ("version", "invocations", "errors", "p99 ms"):
        table.add_column(col)
    for fn, versions in (d.get("traffic") or {}).get("versions", {}).items():
        for v, m in versions.items():
            table.add_row(
                f"{fn} v{v}",
                str(m["invocations"]),
                str(m["errors"]),
                f"{m['p99_ms']:.1f}" if m.get("p99_ms") is not None else "-",
            )
    step = d["step_index"]
    table.caption = (
        f"step {step + 1}/{len(d['steps'])}: {d['steps'][step] if step >= 0 else '-'}  "
        f"weight {d['current_weight'] * 100:.4g}%"
        + _judge_line(d)
        + _hooks_line(d)
        + _alarm_line(d)
        + (f"\n{d['error_code']}: {d['error_message']}" if d.get("error_message") else "")
    )
    return table


def _judge_line(d: dict[str, Any]) -> str:
    j = d.get("judge") or {}
    ev = j.get("evidence")
    if not j.get("enabled", True):
        return "\njudge: off"
    if not ev:
        return ""
    parts = ", ".join(f"{k} {v:.3g}" for k, v in ev.items())
    return f"\njudge evidence: {parts} (threshold {j.get('threshold', 0):.3g})\n" + detectable_line(
        d
    )


def detectable_line(d: dict[str, Any]) -> str:
    """What the judge could have caught, in words: "" when the judge did not look."""
    j = d.get("judge") or {}
    if not j.get("enabled", True) or "canary_requests" not in j or not j.get("evidence"):
        return ""
    n = j.get("canary_requests", 0)
    need = j.get("min_detectable")
    required = f" (required: {need:.1%})" if need else ""
    rate = j.get("detectable")
    if rate is None:
        return (
            f"judge: after {n} canary requests, not even a canary failing every request "
            f"would have been caught{required}"
        )
    return (
        f"judge: after {n} canary requests, a canary failing {rate:.1%} of its requests "
        f"or more would have been caught{required}"
    )


def _hooks_line(d: dict[str, Any]) -> str:
    hooks = d.get("hook_executions") or []
    if not hooks:
        return ""
    return "\nhooks: " + ", ".join(f"{h['phase']} {h['function']} {h['status']}" for h in hooks)


def _alarm_line(d: dict[str, Any]) -> str:
    states = d.get("alarm_states") or {}
    if not states:
        return ""
    return "\nalarms: " + ", ".join(f"{k} {v}" for k, v in states.items())


def plain_event(e: dict[str, Any]) -> str:
    return f"{ts(e['time'])} {e['kind']:<10} {e['message']}"


def console() -> Console:
    return Console(highlight=False)


def source_text(source: dict[str, Any]) -> str:
    """``Kinesis clicks``, ``SQS jobs``, ``SNS event Notify``; ``(disabled)`` when it is."""
    text = f"{source['kind']} {source['source'] or 'event ' + source['event']}"
    return text if source.get("enabled", True) else f"{text} (disabled)"


def _websocket_route_text(route: dict[str, Any]) -> str:
    """``ws /Prod sendmessage``, with its authorizer when one guards it."""
    text = f"ws /{route['stage']} {route['route']}"
    return f"{text} ({route['authorizer']})" if route.get("authorizer") else text


def _route_text(route: dict[str, Any]) -> str:
    """``GET /items``, with its authorizer when one guards it: ``GET /items (Token)``, and
    ``[API key]`` when it requires one."""
    text = f"{route['method']} {route['path']}"
    if route.get("integration") and route.get("function"):  # a function's, not a proxy
        text += " [mapping templates]"
    if route.get("api_key_required"):
        text += " [API key]"
    return f"{text} ({route['authorizer']})" if route.get("authorizer") else text


def user_pool_text(pool: dict[str, Any]) -> str:
    """``Users: us-east-1_…  (clients Web: 1a2b…; triggers PreSignUp → Gate)``: what a
    test signs up and signs in with."""
    clients = ", ".join(f"{c['logical_id']}: {c['id']}" for c in pool["clients"]) or "none"
    text = f"{pool['logical_id']}: {pool['id']}  (clients {clients}"
    triggers = ", ".join(f"{t} → {f}" for t, f in pool["triggers"].items())
    return f"{text}; triggers {triggers})" if triggers else f"{text})"


def listener_text(name: str, listener: dict[str, Any]) -> str:
    """``http://127.0.0.1:PORT/  (Listener of LB, HTTP:80)``: where a load balancer's
    listener is served here, and what it declares."""
    return f"{listener['url']}  ({name} of {listener['load_balancer']}, {listener['listener']})"


def api_key_text(key: dict[str, Any]) -> str:
    """``Name: <value>  (MyApi/Prod)``: what a client sends in ``x-api-key``, and the
    stages that accept it; ``(disabled)`` when it is."""
    value = key["value"] if key["value"] is not None else "(generated when canaria serves it)"
    stages = ", ".join(f"{s['api']}/{s['stage']}" for s in key["stages"]) or "no stage"
    text = f"{key['name']}: {value}  ({stages})"
    return text if key["enabled"] else f"{text} (disabled)"
