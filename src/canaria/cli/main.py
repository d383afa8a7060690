"""The ``canaria`` command. Thin: parse, call the control API (or run the server), render.

Exit codes: 0 success, 1 a deployment failed or was rolled back, 2 bad input.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

import typer
from rich.live import Live

from canaria.cli import render
from canaria.cli.client import ApiError, Client, running_state_dir, state_dir
from canaria.cli.guard import guard
from canaria.cli.simulate import simulate
from canaria.models import MAX_SLOW_TOLERANCE_MS

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run a SAM application locally and canary-deploy it.",
)

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2

TemplateOpt = Annotated[
    str | None,
    typer.Option(
        "-t", "--template", help="SAM template (default: template.yaml, .yml or .json here)"
    ),
]
ParamsOpt = Annotated[
    str | None,
    typer.Option("--parameter-overrides", help="SAM syntax: 'Key=Value Key2=Value2'"),
]
ConfigEnvOpt = Annotated[str | None, typer.Option("--config-env", help="samconfig.toml env")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except ApiError as exc:
        fail(exc.message, EXIT_BAD_INPUT if exc.status != 500 else EXIT_FAILED)


def emit(data: Any, as_json: bool, pretty: Any = None) -> None:
    if as_json or pretty is None:
        typer.echo(json.dumps(data, indent=2, default=str))
    else:
        render.console().print(pretty)


def _overrides(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    from canaria.errors import TemplateError
    from canaria.template import parse_parameter_overrides

    try:
        return parse_parameter_overrides(text)
    except TemplateError as exc:
        fail(exc.message)


def _template(given: str | None) -> str:
    from canaria.errors import TemplateError
    from canaria.template.validate import find_template

    try:
        return str(find_template(given))
    except TemplateError as exc:
        fail(exc.message)


# ---- validate ----------------------------------------------------------------------------


@app.command()
def validate(
    template: TemplateOpt = None,
    parameter_overrides: ParamsOpt = None,
    config_env: ConfigEnvOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a template: every error at once (exit 2), warnings for what canaria skips."""
    from canaria.errors import TemplateError
    from canaria.template.validate import Problem, Report, find_template
    from canaria.template.validate import validate as check

    try:
        path = str(find_template(template))
    except TemplateError as exc:
        if not as_json:
            fail(exc.message)
        emit(Report(template or ".", (Problem.of(exc),)).to_json(), True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    overrides = _overrides(parameter_overrides)
    report = check(Path(path), overrides, config_env=config_env)
    if report.valid:
        report = _check_state_machines(report, Path(path), overrides, config_env)
    if report.valid:
        report = _check_mapping_templates(report, Path(path), overrides, config_env)
    if as_json:
        emit(report.to_json(), True)
    else:
        for w in report.warnings:
            typer.echo(f"warning: {w}", err=True)
        for p in report.errors:
            typer.echo(f"error: {p.text}", err=True)
        if report.valid:
            typer.echo(f"{path} is a valid SAM template")
        else:
            typer.echo(f"{path}: {len(report.errors)} error(s)", err=True)
    raise typer.Exit(0 if report.valid else EXIT_BAD_INPUT)


def _check_state_machines(
    report: Any, path: Path, overrides: dict[str, str] | None, config_env: str | None
) -> Any:
    """The template's state machines as ``up`` and ``deploy`` check them: what the
    interpreter cannot run is an error here too, naming the machine and the state."""
    from canaria.aws.states import StateMachines
    from canaria.template import load
    from canaria.template.validate import Problem, Report
    from canaria.workflows import DefinitionError

    app = load(str(path), overrides, config_env=config_env)
    problems = []
    for spec in app.state_machines.values():
        try:
            StateMachines.parse({spec.name: spec})
        except DefinitionError as exc:
            where = f"Resources.{spec.logical_id}"
            text = f"{path}: {exc.message}"
            problems.append(Problem(str(path), None, where, exc.message, None, text))
    return Report(report.template, tuple(problems), report.warnings) if problems else report


def _check_mapping_templates(
    report: Any, path: Path, overrides: dict[str, str] | None, config_env: str | None
) -> Any:
    """API Gateway's mapping templates compiled as the gateway compiles them: one that does
    not parse is a warning naming its API, method and content type (API Gateway answers
    500 when such a method is called)."""
    from dataclasses import replace

    from canaria.gateway.mapping_templates import MappingTemplateError, compile_check
    from canaria.template import load

    app = load(str(path), overrides, config_env=config_env)
    found: list[str] = []
    routes = [(f"{r.api_id} {r.method} {r.path}", r.integration) for r in app.routes]
    for api in app.websockets.values():
        routes += [(f"{api.logical_id} route {r.key}", r.integration) for r in api.routes]
    for where, integration in routes:
        if integration is None:
            continue
        templates = [("request", k, t) for k, t in integration.request_templates]
        for response in integration.responses:
            templates += [("response", k, t) for k, t in response.templates]
        for kind, key, template in templates:
            try:
                compile_check(template)
            except MappingTemplateError as exc:
                found.append(
                    f"{path}: {where}: its {kind} template for {key} does not parse, so "
                    f"API Gateway answers 500 when it is called: {exc.message}"
                )
    return replace(report, warnings=(*report.warnings, *found)) if found else report


# ---- up --------------------------------------------------------------------------------


def _check_mock_config(path: Path) -> None:
    """Refuse a mock configuration that cannot be read or is malformed, before starting
    (it is read again at each execution that names a test case)."""
    from canaria.workflows import MockConfigError, parse_mock_config

    try:
        parse_mock_config(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"--sfn-mock-config {path}: {exc.strerror}")
    except MockConfigError as exc:
        fail(f"--sfn-mock-config {path}: {exc}")


@app.command()
def up(
    template: TemplateOpt = None,
    time_scale: Annotated[float, typer.Option(help="virtual seconds per wall second")] = 1.0,
    port: Annotated[int, typer.Option(help="API gateway port")] = 3000,
    control_port: Annotated[int, typer.Option(help="control API / edge / dashboard port")] = 3001,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    parameter_overrides: ParamsOpt = None,
    config_env: ConfigEnvOpt = None,
    split: Annotated[str, typer.Option(help="deterministic | random")] = "deterministic",
    seed: Annotated[int | None, typer.Option(help="seed for --split random")] = None,
    clock: Annotated[
        str, typer.Option(help="real | manual (tests: time moves only via POST /canaria/v1/clock)")
    ] = "real",
    guard_stack: Annotated[
        str | None, typer.Option(help="also run `canaria guard` on this AWS stack")
    ] = None,
    guard_act: Annotated[str, typer.Option(help="the guard's action: stop | dry-run")] = "stop",
    guard_local: Annotated[
        bool, typer.Option(help="the guard watches this canaria's own edge (a rehearsal)")
    ] = False,
    guard_region: Annotated[
        str | None, typer.Option(help="the guard's AWS region (else the chain's)")
    ] = None,
    guard_profile: Annotated[str | None, typer.Option(help="the guard's AWS profile")] = None,
    sfn_mock_config: Annotated[
        Path | None,
        typer.Option(
            "--sfn-mock-config",
            envvar="SFN_MOCK_CONFIG",
            help="Step Functions Local's mock configuration (MockConfigFile.json): "
            "StartExecution of '<state machine ARN>#<test case>' runs with its mocked responses",
        ),
    ] = None,
) -> None:
    """Run the application: gateway, edge, controller, dashboard."""
    from canaria.clock import Clock
    from canaria.clockstate import persistent_clock
    from canaria.control.views import api_key_view, user_pool_views
    from canaria.errors import CanariaError
    from canaria.platform import Options, Platform
    from canaria.server import Server

    if time_scale <= 0:
        fail(f"--time-scale must be positive, got {time_scale}")
    if clock not in ("real", "manual"):
        fail(f"--clock {clock!r} (allowed: real, manual)")
    if split not in ("deterministic", "random"):
        fail(f"--split {split!r} (allowed: deterministic, random)")
    if guard_act not in ("stop", "dry-run"):
        fail(f"--guard-act {guard_act!r} (allowed: stop, dry-run)")
    if (guard_region or guard_profile or guard_local) and not guard_stack:
        fail("--guard-region, --guard-profile and --guard-local need --guard-stack")
    if guard_local and (guard_region or guard_profile):
        fail("--guard-local watches this canaria's edge: no --guard-region or --guard-profile")
    if sfn_mock_config is not None:
        _check_mock_config(sfn_mock_config)
    template = _template(template)
    options = Options(
        state_dir=state_dir(),
        template=str(Path(template).resolve()),
        parameter_overrides=_overrides(parameter_overrides),
        config_env=config_env,
        host=host,
        port=port,
        control_port=control_port,
        split_mode=split,
        seed=seed,
        sfn_mock_config=str(sfn_mock_config.resolve()) if sfn_mock_config else None,
    )

    async def main() -> int:
        # never earlier than the virtual time a previous run of this state reached
        chosen: Clock = persistent_clock(
            options.state_dir, "manual" if clock == "manual" else "real", time_scale
        )
        platform = Platform(options, chosen)
        server = Server(platform)
        try:
            result = await server.start()
        except CanariaError as exc:
            await platform.stop()
            fail(exc.message)
        except OSError as exc:
            await platform.stop()
            fail(f"cannot listen: {exc}")
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
        for line in result.plan.describe():
            typer.echo(f"  {line}")
        Path(platform.state_dir, "endpoint").write_text(platform.control_url + "\n")
        typer.echo(f"gateway    http://{host}:{platform.gateway.port}")
        for function, url in platform.function_urls().items():
            typer.echo(f"url        {url}  ({function}'s FunctionUrlConfig)")
        for key in platform.app.api_keys.values() if platform.app else ():
            typer.echo(f"api key    {render.api_key_text(api_key_view(key))}")
        for pool in user_pool_views(platform.app.services) if platform.app else ():
            typer.echo(f"user pool  {render.user_pool_text(pool)}")
        for api in platform.websockets.apis.values():
            stage = api.spec.stage
            typer.echo(
                f"websocket  ws://{host}:{platform.gateway.port}/{stage}  "
                f"({api.spec.logical_id}; Management API {platform.control_url}/{stage})"
            )
        for name, graphql in platform.graphql_apis().items():
            keys = ", ".join(graphql["api_keys"])
            typer.echo(
                f"graphql    {graphql['url']}  ({name}" + (f"; x-api-key {keys})" if keys else ")")
            )
        for name, listener in platform.load_balancer_listeners().items():
            typer.echo(f"alb        {render.listener_text(name, listener)}")
        stack = platform.app.stack if platform.app else None
        for output in stack.outputs if stack else ():  # as `sam deploy` lists them
            typer.echo(f"output     {output.key}  {platform.localize(output.value)}")
        for runtime, (runs_on, names) in _runtime_lines(platform.app).items():
            typer.echo(f"runtime    {runtime} on {runs_on}  ({', '.join(names)})")
        for name, spec in platform.app.functions.items() if platform.app else ():
            if spec.durable is not None:
                typer.echo(
                    f"durable    {name}  (executions up to {spec.durable.execution_timeout_s} s;"
                    f" canaria exec -- aws lambda list-durable-executions-by-function"
                    f" --function-name {name})"
                )
        typer.echo(f"control    {platform.control_url}  (token in {platform.state_dir}/token)")
        typer.echo(f"dashboard  {platform.control_url}/?token={platform.token}")
        served = "S3, SQS, SNS, SSM, Secrets Manager, EventBridge, Kinesis, Cognito user pools"
        typer.echo(f"services   {platform.services.endpoint}  ({served})")
        typer.echo(f"dynamodb   {platform.tables.endpoint}  (DynamoDB, DynamoDB Streams)")
        if time_scale != 1:
            typer.echo(f"time runs {time_scale:g}x faster than the wall clock")
        guard = None
        if guard_stack:
            from canaria.cli.guard import background_guard

            guard = background_guard(
                guard_stack,
                guard_act,
                platform,
                local=guard_local,
                region=guard_region,
                profile=guard_profile,
            )
            where = "this edge" if guard_local else guard_region or "the chain's region"
            typer.echo(f"guard      stack {guard_stack} ({guard_act}, {where})")
        sys.stdout.flush()
        await server.wait()
        typer.echo("stopping…")
        if guard is not None:
            guard.stop()
        await server.stop()
        return 0

    try:
        import uvloop

        code = uvloop.run(main())
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code)


# ---- deploy ------------------------------------------------------------------------------


@app.command()
def deploy(
    template: TemplateOpt = None,
    wait: Annotated[bool, typer.Option("--wait", help="follow until done")] = False,
    ignore_alarms: Annotated[
        bool, typer.Option(help="start even if an alarm is in ALARM (watched once it leaves ALARM)")
    ] = False,
    dry_run: Annotated[bool, typer.Option(help="print the plan, change nothing")] = False,
    group: Annotated[bool, typer.Option(help="deploy all changed functions atomically")] = False,
    config: Annotated[str | None, typer.Option(help="override the deployment config")] = None,
    no_judge: Annotated[bool, typer.Option("--no-judge", help="switch the judge off")] = False,
    judge_alpha: Annotated[float | None, typer.Option(help="judge false-rollback bound")] = None,
    early_promotion: Annotated[bool, typer.Option(help="let the judge promote early")] = False,
    slow_tolerance_ms: Annotated[
        float | None,
        typer.Option(help="a request is slow above the stable p99 plus this (ms, default 1)"),
    ] = None,
    min_detectable: Annotated[
        float | None,
        typer.Option(help="a step ends only once a canary failing this % would be caught"),
    ] = None,
    undetectable: Annotated[
        str | None, typer.Option(help="when a step's hold runs out first: fail or promote")
    ] = None,
    parameter_overrides: ParamsOpt = None,
    config_env: ConfigEnvOpt = None,
    as_json: JsonOpt = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="then deploy again, and follow, each time a file under the template's "
            "folder changes (Ctrl-C stops)",
        ),
    ] = False,
) -> None:
    """Publish changed functions and shift traffic to them."""
    template = _template(template)
    if watch and dry_run:
        fail("--watch deploys each change: it does not go with --dry-run")
    judge: dict[str, Any] = {}
    if no_judge:
        judge["enabled"] = False
    if judge_alpha is not None:
        if not 0 < judge_alpha < 1:
            fail(f"--judge-alpha must be in (0, 1), got {judge_alpha}")
        judge["alpha"] = judge_alpha
    if early_promotion:
        judge["early_promotion"] = True
    if slow_tolerance_ms is not None:
        if not 0 <= slow_tolerance_ms < MAX_SLOW_TOLERANCE_MS:
            fail(f"--slow-tolerance-ms must be milliseconds >= 0, got {slow_tolerance_ms}")
        judge["slow_tolerance_ms"] = slow_tolerance_ms
    if min_detectable is not None:
        if not 0 < min_detectable <= 100:
            fail(f"--min-detectable must be a percentage in (0, 100], got {min_detectable}")
        judge["min_detectable"] = min_detectable / 100
    if undetectable is not None:
        judge["undetectable"] = undetectable  # the control API checks it
    client = Client()
    body = {
        "template": str(Path(template).resolve()),
        "parameter_overrides": _overrides(parameter_overrides),
        "config_env": config_env,
        "ignore_alarms": ignore_alarms,
        "dry_run": dry_run,
        "group": group,
        "config": config,
        "judge": judge or None,
    }
    if watch:
        watch_and_deploy(client, body, as_json)
        return
    result = call(client.post, "/deployments", body)
    if not wait or dry_run or not result["deployments"]:
        if as_json:
            emit(result, True)
        else:
            for w in result["warnings"]:
                typer.echo(f"warning: {w}", err=True)
            for line in result["plan"]:
                typer.echo(("would " if dry_run else "") + line)
            for d in result["deployments"]:
                typer.echo(f"deployment {d['id']} {d['state']}")
        raise typer.Exit(0)
    ids = [d["id"] for d in result["deployments"]]
    finals = [follow(client, i, as_json) for i in ids]
    ok = all(d["state"] == "Succeeded" for d in finals)
    raise typer.Exit(0 if ok else EXIT_FAILED)


# what a change under the template's folder never is: tools' and canaria's own files
WATCH_IGNORED_DIRS = (".aws-sam", ".canaria")
WATCH_WAKE_MS = 200


def watch_and_deploy(client: Client, body: dict[str, Any], as_json: bool) -> None:
    """Deploy ``body``'s template now and after each change under its folder (a batch of
    saves is one change), following each release's deployments to their end before
    looking again. A template that does not load, or a release the server refuses, is
    printed and the watch goes on: the next save may fix it. Ctrl-C stops watching, and
    leaves a deployment being followed to go on."""
    from watchfiles import DefaultFilter, watch

    logging.getLogger("watchfiles").setLevel(logging.ERROR)  # its own Ctrl-C line: ours
    root = Path(body["template"]).parent
    ignored = DefaultFilter(
        ignore_dirs=(*DefaultFilter.ignore_dirs, *WATCH_IGNORED_DIRS),
        ignore_paths=(Path(state_dir()).resolve(),),  # canaria writes there all the time
    )
    # Woken every WATCH_WAKE_MS with nothing: the first wake says the watcher is set up
    # (inotify registers the tree before the first wait), so a save made once "watching"
    # is printed, or during the first release, is never missed.
    saves = watch(
        root,
        watch_filter=ignored,
        raise_interrupt=False,
        yield_on_timeout=True,
        rust_timeout=WATCH_WAKE_MS,
    )
    try:
        next(saves, None)  # a save in this first wait is in the release that follows
        _release(client, body, as_json)
        typer.echo(f"watching {root} for changes (Ctrl-C stops)")
        for changes in saves:
            if not changes:
                continue
            names = sorted({Path(path).relative_to(root).as_posix() for _, path in changes})
            more = f" and {len(names) - 3} more" if len(names) > 3 else ""
            typer.echo(f"changed: {', '.join(names[:3])}{more}")
            _release(client, body, as_json)
    except KeyboardInterrupt:  # while a release is followed: it goes on without us
        pass
    finally:
        saves.close()
    typer.echo("stopped watching")


def _release(client: Client, body: dict[str, Any], as_json: bool) -> None:
    """One release of the watch: its plan and deployments, followed, or why it did not
    start."""
    try:
        result = client.post("/deployments", body)
    except ApiError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        return
    for w in result["warnings"]:
        typer.echo(f"warning: {w}", err=True)
    for line in result["plan"]:
        typer.echo(line)
    for d in result["deployments"]:
        follow(client, d["id"], as_json)


def follow(client: Client, deployment_id: str, as_json: bool) -> dict[str, Any]:
    """Follow a deployment until it completes; live panel on a TTY, lines otherwise."""
    after = 0
    tty = sys.stdout.isatty() and not as_json
    live = Live(refresh_per_second=4, console=render.console()) if tty else None
    if live:
        live.start()
    try:
        while True:
            data = call(client.get, f"/deployments/{deployment_id}/events?after={after}")
            for e in data["events"]:
                after = max(after, e["id"])
                if as_json:
                    typer.echo(json.dumps(e))
                elif live:
                    live.console.print(render.plain_event(e))
                else:
                    typer.echo(render.plain_event(e))
            d = data["deployment"]
            if live:
                live.update(render.deployment_panel(d))
            if d["completed"]:
                break
            time.sleep(0.25)
    finally:
        if live:
            live.stop()
    summary = f"deployment {d['id']} {d['state']}"
    if d["rolled_back"]:
        summary += " (rolled back)"
    if d.get("error_message"):
        summary += f": {d['error_message']}"
    if as_json:
        typer.echo(json.dumps(d))
    else:
        typer.echo(summary)
        if line := render.detectable_line(d):
            typer.echo(line)
    return d  # type: ignore[no-any-return]


# ---- reads -------------------------------------------------------------------------------


@app.command()
def status(as_json: JsonOpt = False) -> None:
    """Functions, aliases and their split, alarms, deployments in progress."""
    data = call(Client().get, "/status")
    emit(data, as_json, render.status_tables(data))


@app.command()
def deployments(
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20, as_json: JsonOpt = False
) -> None:
    """Recent deployments."""
    data = call(Client().get, f"/deployments?limit={limit}")
    if as_json:
        emit(data, True)
        return
    for d in data["deployments"]:
        moves = ", ".join(
            f"{t['function']} v{t['from_version']}→v{t['to_version']}" for t in d["targets"]
        )
        extra = " rolled back" if d["rolled_back"] else ""
        why = f" — {d['error_message']}" if d.get("error_message") else ""
        typer.echo(
            f"{d['id']}  {render.ts(d['created_at'])}  {d['state']:<18}{extra} "
            f"{moves} [{d['config']}]{why}"
        )


def function_name(text: str) -> str:
    """The function a command names: its name, or the SAM CLI's path of a function in a
    nested application (``Shop/Put``, as ``sam local invoke`` takes it, is ``ShopPut``)."""
    return text.replace("/", "")


@app.command()
def history(function: str, as_json: JsonOpt = False) -> None:
    """A function's versions, aliases and deployments."""
    data = call(Client().get, f"/functions/{function_name(function)}/history")
    if as_json:
        emit(data, True)
        return
    for v in data["versions"]:
        typer.echo(f"version {v['number']}  {render.ts(v['created_at'])}  {v['digest'][:12]}")
    for a in data["aliases"]:
        typer.echo(f"alias {a['name']}: {render.split_text(a['split'])}")
    for d in data["deployments"]:
        typer.echo(f"{d['id']}  {d['state']}{' (rolled back)' if d['rolled_back'] else ''}")


@app.command()
def invoke(
    target: Annotated[str, typer.Argument(help="FUNCTION[:ALIAS|:VERSION]")],
    payload: Annotated[
        str,
        typer.Option(
            "--payload", "-p", help="JSON event, or file://PATH (as the AWS CLI) or @PATH"
        ),
    ] = "{}",
    as_json: JsonOpt = False,
) -> None:
    """Invoke a function like `aws lambda invoke`."""
    fn, _, qualifier = target.partition(":")
    fn = function_name(fn)
    source = "--payload"
    path = payload.removeprefix("file://") if payload.startswith("file://") else None
    if path is None and payload.startswith("@"):
        path = payload[1:]
    if path is not None:
        source = f"--payload {payload}"
        try:
            payload = Path(path).expanduser().read_text()
        except (OSError, UnicodeDecodeError) as exc:
            fail(f"{source}: cannot read the file: {exc}")
    try:
        event = json.loads(payload)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not JSON: {exc}")
    data = call(
        Client().post, f"/functions/{fn}/invoke", {"payload": event, "qualifier": qualifier or None}
    )
    if as_json:
        emit(data, True)
    else:
        typer.echo(
            f"version {data['version']}  {data['duration_ms']:.1f} ms"
            + ("  (cold start)" if data["cold_start"] else "")
        )
        if data["logs"]:
            typer.echo(data["logs"].rstrip())
        typer.echo(json.dumps(data["payload"], indent=2))
    if data["function_error"]:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="a function, or a log group (/aws/..., ...)")],
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="keep printing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """A function's captured stdout/stderr, or a log group's lines (a function's
    ``LoggingConfig`` group, a state machine's, a rule's, what code put there)."""
    client = Client()
    path = f"/functions/{function_name(name)}/logs?"
    if name.startswith("/"):
        path = f"/log-groups/lines?name={quote(name, safe='')}&"
    else:
        try:
            client.get(f"{path}limit=1")
        except ApiError as exc:  # not a function: a group of that name, or the same error
            if exc.status != 404:
                fail(exc.message)
            path = f"/log-groups/lines?name={quote(name, safe='')}&"
    group = path.startswith("/log-groups")
    since = 0
    while True:
        data = call(client.get, f"{path}since={since}")
        for line in data["lines"]:
            since = max(since, line["seq"])
            if as_json:
                typer.echo(json.dumps(line))
            elif group:
                typer.echo(f"{render.ts(line['time'])} {line['stream']} {line['text'].rstrip()}")
            else:
                typer.echo(
                    f"{render.ts(line['time'])} v{line['version']} "
                    f"{line['request_id'][:8]} {line['text'].rstrip()}"
                )
        if not follow_:
            return
        time.sleep(0.5)


@app.command()
def outbox(
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="keep printing")] = False,
    as_json: JsonOpt = False,
) -> None:
    """What topics' email and SMS subscribers would have been sent (kept, not sent)."""
    from canaria.services import outbox as kept

    seen = 0
    while True:
        for entry in kept.read(running_state_dir(), seen):
            seen += 1
            if as_json:
                typer.echo(json.dumps(entry))
                continue
            subject = f"  {entry['subject']}" if entry.get("subject") else ""
            typer.echo(f"{render.ts(entry['time'])} {entry['protocol']} to {entry['to']}{subject}")
            typer.echo("".join(f"  {line}\n" for line in str(entry["message"]).splitlines()))
        if not follow_:
            return
        time.sleep(0.5)


# ---- operator commands ------------------------------------------------------------------------


@app.command()
def stop(
    deployment: str,
    no_rollback: Annotated[bool, typer.Option(help="leave the alias where it is")] = False,
) -> None:
    """Stop a deployment and roll it back."""
    d = call(Client().post, f"/deployments/{deployment}/stop", {"rollback": not no_rollback})
    typer.echo(
        f"deployment {d['id']} {d['state']}" + (" (rolled back)" if d["rolled_back"] else "")
    )


@app.command()
def rollback(function: str) -> None:
    """Roll back a function's deployment in progress, or its last successful one."""
    d = call(Client().post, f"/functions/{function_name(function)}/rollback")["deployment"]
    if d.get("rollback_of"):  # the last deployment had finished: a rollback deployment
        (t,) = d["targets"]
        typer.echo(
            f"deployment {d['id']} {d['state']}: {function}:{t['alias']} back to version "
            f"{t['to_version']} (rolls back {d['rollback_of']})"
        )
    else:
        typer.echo(f"deployment {d['id']} {d['state']} (rolled back)")


@app.command()
def promote(
    deployment: str,
    full: Annotated[bool, typer.Option("--full", help="finish now, skip every wait")] = False,
) -> None:
    """End the current step now (or, with --full, shift everything)."""
    d = call(Client().post, f"/deployments/{deployment}/promote", {"full": full})
    typer.echo(f"deployment {d['id']} {d['state']} at {d['current_weight'] * 100:.4g}%")


app.command()(simulate)
app.command()(guard)


def _runtime_lines(app: Any) -> dict[str, tuple[str, list[str]]]:
    """Each Python and Node.js runtime of the application: what it runs on (``Python
    3.12.1``, ``Node.js v24.11.1``), and its functions."""
    from canaria import nodejs, pythons

    lines: dict[str, tuple[str, list[str]]] = {}
    for name, spec in app.functions.items() if app else ():
        runtime = spec.config.runtime
        if runtime not in lines:
            if (node := nodejs.version_for(runtime)) is not None:
                lines[runtime] = (f"Node.js {node}", [])
            elif pythons.line_of(runtime) is not None:
                lines[runtime] = (f"Python {pythons.python_for(runtime).version}", [])
            else:
                continue
        lines[runtime][1].append(name)
    return dict(sorted(lines.items()))


# ---- setup and demo -----------------------------------------------------------------------


@app.command()
def setup(
    node: Annotated[
        list[int] | None,
        typer.Option(
            "--node",
            help="Also install this Node.js release line (e.g. 24) for nodejs<N>.x "
            "functions, as `up` does when a template first needs it; repeatable.",
        ),
    ] = None,
    python: Annotated[
        list[str] | None,
        typer.Option(
            "--python",
            help="Also prepare this machine's Python of that version (e.g. 3.13) for "
            "python3.N functions, as `up` does when a template first needs it; repeatable.",
        ),
    ] = None,
) -> None:
    """Install the npm packages canaria runs (dynalite) and serves (uPlot) with npm ci, into
    $CANARIA_NODE_MODULES or <this Python environment>/share/canaria/node_modules."""
    from canaria import nodejs, pythons
    from canaria.npm import SetupError, install

    for major in node or ():
        if major < nodejs.OLDEST:
            fail(f"--node {major}: canaria installs Node.js {nodejs.OLDEST} or newer")
    for line in python or ():
        if not re.fullmatch(r"3\.\d+", line):
            fail(f"--python {line}: give a Python version as 3.N (e.g. 3.13)")
    try:
        where = install()
        typer.echo(f"npm packages installed in {where}")
        for major in node or ():
            found = nodejs.install(major)
            typer.echo(f"Node.js {found.version} installed in {nodejs.home(major)}")
        for line in python or ():
            ready = pythons.install(line)
            typer.echo(f"Python {ready.version} ({ready.path}) ready: its packages in {ready.site}")
    except SetupError as exc:
        fail(exc.message, EXIT_FAILED)


@app.command()
def demo() -> None:
    """The hello application through a good and a bad release, in about a minute."""
    from canaria.demo import main as run_demo

    raise typer.Exit(run_demo())


# ---- env / exec: users' own tools against the edge --------------------------------------


def _exports() -> dict[str, str]:
    from canaria.auth import read_token
    from canaria.cli.environment import exports

    token = read_token(running_state_dir())
    if not token:
        fail(
            f"no token in {state_dir()}/ or a .canaria/ above it (run `canaria up` there, "
            "or set CANARIA_STATE)"
        )
    endpoints = call(Client().get, "/status").get("endpoints") or {}
    try:
        return exports(token, endpoints)
    except ValueError as exc:
        fail(str(exc))


@app.command()
def env(as_json: JsonOpt = False) -> None:
    """Print the exports that point the AWS CLI and SDKs at canaria: eval "$(canaria env)"."""
    from canaria.cli.environment import shell_lines

    values = _exports()
    if as_json:
        emit(values, True)
    else:
        typer.echo(shell_lines(values), nl=False)


@app.command(
    name="exec",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def exec_(ctx: typer.Context) -> None:
    """Run a command with canaria's exports: canaria exec -- aws lambda list-functions."""
    from canaria.cli.environment import child_environment

    argv = list(ctx.args)
    if argv[:1] == ["--"]:
        argv = argv[1:]
    if not argv:
        fail("name a command to run, e.g. canaria exec -- pytest tests/")
    env_ = child_environment(os.environ, _exports())
    try:
        os.execvpe(argv[0], argv, env_)
    except OSError as exc:
        fail(f"cannot run {argv[0]}: {exc.strerror}", 127)


def sam_overrides(argv: list[str]) -> list[str]:
    """``argv`` with the words after ``--parameter-overrides`` made one value, as the SAM
    CLI takes them unquoted (``--parameter-overrides A=1 B=2``: its option takes each
    following ``Key=Value`` word up to the next option). A word whose value holds spaces
    (one the shell kept whole) is quoted as SAM's syntax quotes it. Nothing after ``--``
    (``canaria exec``'s command) is touched."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        out.append(word)
        if word == "--":
            out.extend(argv[i:])
            break
        if word == "--parameter-overrides":
            values: list[str] = []
            while i < len(argv) and not argv[i].startswith("-") and (not values or "=" in argv[i]):
                values.append(argv[i])
                i += 1
            if values:
                out.append(" ".join(map(_quoted, values)) if len(values) > 1 else values[0])
    return out


def _quoted(word: str) -> str:
    key, eq, value = word.partition("=")
    if eq and any(c.isspace() for c in value) and not value.startswith(('"', "'")):
        return f'{key}="{value}"'
    return word


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app(args=sam_overrides(sys.argv[1:]))


if __name__ == "__main__":
    main()
