"""``canaria guard``: the judge on CodeDeploy deployments on AWS (or on ``canaria up``'s
edge with ``--local``, to rehearse)."""

from __future__ import annotations

import json
import signal
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from canaria.models import MAX_SLOW_TOLERANCE_MS, JudgeSettings

if TYPE_CHECKING:
    from canaria.guard.background import GuardThread
    from canaria.platform import Platform


def _judge_lookup(template: str, overrides: dict[str, str]) -> dict[str, JudgeSettings]:
    """Per function logical id, the template's ``Metadata: canaria: judge`` settings."""
    from canaria import template as templates

    app = templates.load(template, overrides)
    return {
        name: spec.deployment_preference.judge
        for name, spec in app.functions.items()
        if spec.deployment_preference is not None
    }


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def guard(
    stack: Annotated[
        str | None, typer.Option(help="CloudFormation stack (as `sam deploy` made it)")
    ] = None,
    application: Annotated[str | None, typer.Option(help="CodeDeploy application")] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="deployment group (repeatable)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="decide and report only")] = False,
    act: Annotated[
        str, typer.Option(help="stop: StopDeployment with rollback | alarm: SetAlarmState")
    ] = "stop",
    alarm_name: Annotated[
        str, typer.Option(help="the alarm --act alarm sets (the group must watch it)")
    ] = "canaria-judge",
    region: Annotated[str | None, typer.Option(help="AWS region (else the chain's)")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile")] = None,
    local: Annotated[
        bool, typer.Option("--local", help="rehearse against `canaria up`'s edge")
    ] = False,
    template: Annotated[
        str | None,
        typer.Option("-t", "--template", help="read judge settings from this SAM template"),
    ] = None,
    judge_alpha: Annotated[float, typer.Option(help="judge false-rollback bound")] = 0.01,
    slow_tolerance_ms: Annotated[
        float, typer.Option(help="slow above the stable p99 plus this (ms)")
    ] = 1.0,
    poll: Annotated[float, typer.Option(help="seconds between polls")] = 2.0,
    signals: Annotated[
        str,
        typer.Option(help="logs: CloudWatch Logs, seconds | metrics: AWS/Lambda metrics, minutes"),
    ] = "logs",
    cross_check: Annotated[
        bool,
        typer.Option(
            "--cross-check/--no-cross-check",
            help="logs: compare each minute with AWS/Lambda metrics (GetMetricData, 1/min)",
        ),
    ] = True,
    webhook: Annotated[
        list[str] | None,
        typer.Option("--webhook", help="URL to POST each decision to (repeatable)"),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="one poll, then exit")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print events as JSON lines")] = False,
) -> None:
    """Watch CodeDeploy deployments of Lambda functions and stop bad ones with the judge."""
    from canaria.cli.client import endpoint, state_dir
    from canaria.cli.main import fail
    from canaria.clock import RealClock
    from canaria.guard import AwsGuardClient, Guard, GuardError, GuardOptions, GuardRecords, Mode
    from canaria.guard.aws import NoCredentials
    from canaria.guard.model import GuardEvent, Source
    from canaria.store import Store

    if act not in ("stop", "alarm"):
        fail(f"--act {act!r} (allowed: stop, alarm)")
    if signals not in ("logs", "metrics"):
        fail(f"--signals {signals!r} (allowed: logs, metrics)")
    if not 0 < judge_alpha < 1:
        fail(f"--judge-alpha must be in (0, 1), got {judge_alpha}")
    if not 0 <= slow_tolerance_ms < MAX_SLOW_TOLERANCE_MS:
        fail(f"--slow-tolerance-ms must be milliseconds >= 0, got {slow_tolerance_ms}")
    mode = Mode.DRY_RUN if dry_run else Mode(act)
    lookup: dict[str, JudgeSettings] = {}
    if template is not None:
        from canaria.errors import TemplateError

        if not Path(template).is_file():
            fail(f"template {template} does not exist")
        try:
            lookup = _judge_lookup(template, {})
        except TemplateError as exc:
            fail(exc.message)

    def judge_for(function: str) -> JudgeSettings | None:
        # SAM names a function <stack>-<LogicalId>-<suffix>; locally it is the logical id
        for logical, settings in lookup.items():
            if function == logical or f"-{logical}-" in f"-{function}-":
                return settings
        return None

    def show(e: GuardEvent) -> None:
        if as_json:
            typer.echo(json.dumps(asdict(e)))
        else:
            stamp = time.strftime("%H:%M:%S", time.localtime(e.time))
            typer.echo(f"{stamp} {e.deployment_id} {e.kind}: {e.message}")

    runner: Guard | None = None
    try:
        options = GuardOptions(
            stack=stack,
            application=application,
            groups=tuple(group or ()),
            mode=mode,
            alarm_name=alarm_name if mode is Mode.ALARM else None,
            judge=JudgeSettings(alpha=judge_alpha, slow_tolerance_ms=slow_tolerance_ms),
            judge_for=judge_for if lookup else None,
            poll_s=poll,
            webhooks=tuple(webhook or ()),
            source=Source(signals),
            cross_check=cross_check,
        )
        if local:
            import boto3

            from canaria.auth import access_key_id, secret_access_key

            token_file = Path(state_dir()) / "token"
            if not token_file.is_file():
                fail(f"--local: no `canaria up` state in {state_dir()} (start it first)")
            token = token_file.read_text().strip()
            session = boto3.session.Session(
                aws_access_key_id=access_key_id(token),
                aws_secret_access_key=secret_access_key(token),
                region_name=region or "us-east-1",
            )
            client = AwsGuardClient(session=session, endpoint_url=endpoint())
        else:
            client = AwsGuardClient(profile=profile, region=region)
        signal.signal(signal.SIGTERM, _interrupt)  # ends the loop as Ctrl-C does
        store = Store.open(state_dir())
        runner = Guard(client, GuardRecords(store), options, RealClock(), on_event=show)
        runner.poll()  # the first poll's errors (credentials, region, stack) end the command
        while not once:
            time.sleep(runner.next_delay())
            try:
                runner.poll()
            except NoCredentials:
                raise
            except GuardError as exc:  # later: say so, keep the evidence, try again
                show(GuardEvent("-", time.time(), "aws", f"{exc.message}; will retry"))
    except GuardError as exc:
        fail(exc.message)
    except KeyboardInterrupt:
        pass
    if runner is not None:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(runner.client.calls.items()))
        typer.echo(f"AWS calls: {calls or 'none'}", err=True)


def background_guard(
    stack: str,
    act: str,
    platform: Platform,
    *,
    local: bool = False,
    region: str | None = None,
    profile: str | None = None,
) -> GuardThread:
    """The guard in a thread of ``canaria up`` (``--guard-stack``), on its store: on the
    account the AWS chain (or ``profile`` / ``region``) names, or on this edge (``local``)."""
    import boto3

    from canaria.guard import AwsGuardClient, GuardOptions, Mode
    from canaria.guard.background import GuardThread
    from canaria.store import Store

    def make_client() -> AwsGuardClient:
        if not local:
            return AwsGuardClient(profile=profile, region=region)
        session = boto3.session.Session(
            aws_access_key_id=platform.access_key,
            aws_secret_access_key=platform.secret_key,
            region_name="us-east-1",
        )
        return AwsGuardClient(session=session, endpoint_url=platform.control_url)

    options = GuardOptions(stack=stack, mode=Mode.DRY_RUN if act == "dry-run" else Mode.STOP)
    thread = GuardThread(
        make_client, Store.open(platform.state_dir, platform.options.database_url), options
    )
    thread.start()
    return thread
