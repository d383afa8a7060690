"""``canaria simulate``: replay a good and a faulty release under CodeDeploy's strategies
and a canaria step list with the judge, in virtual time (seconds of wall time).

Thin: parse, call ``canaria.analysis.strategies.simulate_release``, render a table, an
optional chart (matplotlib, imported only when asked for) and optional JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from canaria.analysis.strategies import DEFAULT_STEPS, Report, parse_steps, simulate_release
from canaria.errors import InvalidRequest
from canaria.models import JudgeSettings

__all__ = ["render_chart", "render_table", "simulate"]

EXIT_BAD_INPUT = 2


def simulate(
    error_rate: Annotated[
        float, typer.Option("--error-rate", help="share of the faulty release's requests that fail")
    ] = 0.05,
    baseline_error_rate: Annotated[
        float,
        typer.Option("--baseline-error-rate", help="share of the stable version's that fail"),
    ] = 0.001,
    rate: Annotated[float, typer.Option("--rate", help="requests per second")] = 20.0,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    steps: Annotated[
        str,
        typer.Option(
            "--steps", help="canaria step list: '1%:1m,10%:2m,50%:2m,100%' or a JSON list"
        ),
    ] = DEFAULT_STEPS,
    trials: Annotated[int, typer.Option("--trials", help="seeded replays per cell")] = 21,
    horizon: Annotated[int, typer.Option("--horizon", help="virtual seconds watched")] = 1800,
    alpha: Annotated[float, typer.Option("--alpha", help="the judge's α")] = 0.01,
    chart: Annotated[Path | None, typer.Option("--chart", help="write a PNG chart here")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Replay a release under AllAtOnce, Canary10Percent5Minutes,
    Linear10PercentEvery1Minute and a canaria step list with the judge (virtual time)."""
    try:
        report = simulate_release(
            steps=parse_steps(steps),
            rate_rps=rate,
            error_rate=error_rate,
            baseline_error_rate=baseline_error_rate,
            seed=seed,
            trials=trials,
            horizon_s=horizon,
            judge_settings=JudgeSettings(alpha=alpha),
        )
    except (InvalidRequest, ValueError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', None) or exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    if chart is not None:
        render_chart(report, chart)
    if as_json:
        body = report.to_json()
        if chart is not None:
            body["chart"] = str(chart)
        typer.echo(json.dumps(body, indent=2))
        return
    Console(width=140).print(render_table(report))
    if chart is not None:
        typer.echo(f"chart: {chart}")


def _seconds(value: float | None, share: float) -> str:
    if value is None:
        return f"never ({100 * share:.0f} % of runs)" if share else "never"
    shown = f"{value:.0f} s"
    return shown if share == 1.0 else f"{shown} ({100 * share:.0f} % of runs)"


def render_table(report: Report) -> Table:
    table = Table(
        title=(
            f"{report.rate_rps:g} req/s, stable errors {100 * report.baseline_error_rate:g} %, "
            f"faulty release {100 * report.error_rate:g} % — medians of {report.trials} "
            f"seeded runs over {report.horizon_s / 60:g} virtual minutes (seed {report.seed})"
        ),
        caption=(
            "CodeDeploy configs are guarded by `Errors Sum > 0` (60 s) on the new version, "
            f"watched until 100 %; canaria's steps by the judge (α = {report.alpha:g})."
        ),
    )
    for col in (
        "strategy",
        "good: failed requests (new version)",
        "good: reaches 100 %",
        "good: rolled back",
        "faulty: failed requests (new version)",
        "faulty: rolled back after",
    ):
        if col == "strategy":
            table.add_column(col, no_wrap=True)
        else:
            table.add_column(col, justify="right")
    by = {(o.strategy, o.release): o for o in report.outcomes}
    for name in dict.fromkeys(o.strategy for o in report.outcomes):
        good, bad = by[(name, "good")], by[(name, "faulty")]
        table.add_row(
            name,
            f"{good.median_failed:g} ({good.median_failed_new:g})",
            _seconds(good.median_time("reached_full_s"), good.share("reached_full_s")),
            f"{100 * good.share('rolled_back_s'):.0f} % of runs",
            f"{bad.median_failed:g} ({bad.median_failed_new:g})",
            _seconds(bad.median_time("rolled_back_s"), bad.share("rolled_back_s")),
        )
    return table


def render_chart(report: Report, path: Path) -> None:
    """Two panels from the first seeded run: the new version's weight over time for the
    good release, and the cumulative failed requests for the faulty one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    for o in report.outcomes:
        run = o.runs[0]
        minutes = [t / 60 for t in range(len(run.weights))]
        if o.release == "good":
            top.step(minutes, [100 * w for w in run.weights], where="post", label=o.strategy)
        else:
            bottom.plot(minutes, run.failed_cumulative, label=o.strategy)
    top.set_ylabel("good release: % of traffic")
    top.set_title(
        f"{report.rate_rps:g} req/s, stable errors {100 * report.baseline_error_rate:g} %, "
        f"faulty release {100 * report.error_rate:g} % (seed {report.seed}, first run)"
    )
    bottom.set_ylabel("faulty release: failed requests")
    bottom.set_xlabel("virtual minutes")
    bottom.set_yscale("symlog")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
