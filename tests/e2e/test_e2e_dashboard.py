"""The dashboard in a real browser (Debian's headless Chromium, driven by Playwright)
against a real ``canaria up`` on loopback with a manual clock.

One page stays open through the whole module: it signs in with the printed URL, shows
the hello application, follows a faulty deployment (started from the CLI) through its
rollback, promotes a good one fully after a confirmation, and shows what a rehearsed
`canaria guard` decided — never reloaded (a marker set on ``window`` at sign-in must
survive to the end).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.chromium import WAIT_MS, chromium
from tests.functional.harness import ROOT, Canaria, copy_example

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
FN = "HelloFunction"
expect.set_options(timeout=WAIT_MS)  # generous: the page follows the server's pushes


def save_screenshot(page: Page, name: str, *, docs: bool = True) -> Path:
    """Into test-artifacts/ (git-ignored); with CANARIA_UPDATE_SCREENSHOTS=1 also into
    docs/screenshots/, the copies the README shows (so a test run leaves the tree clean)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("CANARIA_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, SCREENSHOTS / name)
    return path


@pytest.fixture(scope="module")
def canaria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaria]:
    base = tmp_path_factory.mktemp("e2e")
    app = copy_example("hello", base)
    c = Canaria(app / "template.yaml", base / "state", clock="manual").start()
    try:
        yield c
    finally:
        c.stop()
        (ARTIFACTS).mkdir(exist_ok=True)
        shutil.copyfile(c.log, ARTIFACTS / "e2e-canaria-up.log")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with chromium(profile, headless=True, viewport={"width": 1400, "height": 1000}) as context:
        yield context


@pytest.fixture(scope="module")
def page(browser: BrowserContext) -> Iterator[Page]:
    p = browser.pages[0] if browser.pages else browser.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    assert not errors, f"JavaScript errors on the page: {errors}"


# ---- driving canaria -----------------------------------------------------------------------


def printed_dashboard_url(c: Canaria) -> str:
    match = re.search(r"dashboard\s+(http://\S+\?token=\S+)", c.output())
    assert match, f"`canaria up` did not print the dashboard URL:\n{c.output()}"
    return match.group(1)


def deploy(c: Canaria, version: str) -> str:
    """`canaria deploy` from the CLI, as an operator would; returns the deployment id."""
    template = str(c.template)
    run = c.cli(
        "deploy", "-t", template, "--parameter-overrides", f"AppVersion={version}", "--json"
    )
    assert run.returncode == 0, run.stderr + run.stdout
    deployments = json.loads(run.stdout)["deployments"]
    assert len(deployments) == 1, run.stdout
    return str(deployments[0]["id"])


def deployment(c: Canaria, deployment_id: str) -> dict[str, Any]:
    return c.api().get(f"/deployments/{deployment_id}")  # type: ignore[no-any-return]


def until_traffic_shifts(c: Canaria, deployment_id: str) -> dict[str, Any]:
    """Move the clock a second at a time until the PreTraffic hook has passed."""
    for _ in range(120):
        d = deployment(c, deployment_id)
        if d["state"] == "AllowTraffic" or d["completed"]:
            return d
        c.advance(1)
        time.sleep(0.1)  # between clock moves only; the page is awaited with expect()
    raise AssertionError(f"deployment never shifted traffic: {json.dumps(d)[:2000]}")


def send_traffic(c: Canaria, requests: int) -> tuple[int, int]:
    ok = failed = 0
    for _ in range(requests):
        status, _, _ = c.http("GET", "/hello")
        if status == 200:
            ok += 1
        else:
            failed += 1
    return ok, failed


# ---- the tests (in order: one page, one canaria, never reloaded) --------------------------


def test_e2e_the_page_asks_for_the_token_then_signs_in(canaria: Canaria, page: Page) -> None:
    base = f"http://127.0.0.1:{canaria.control_port}"
    page.goto(base + "/")
    expect(page.get_by_label("token")).to_be_visible()
    for path in (
        "/canaria/static/app.js",
        "/canaria/static/uplot.js",
        "/canaria/v1/stream",
        "/metrics",
    ):
        assert page.request.get(base + path).status == 401, path
    page.get_by_label("token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong token.")

    page.goto(printed_dashboard_url(canaria))
    assert page.url == base + "/canaria/"  # the token left the address bar; a cookie holds it
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["canaria_token"]["httpOnly"]
    assert cookies["canaria_token"]["path"] == "/canaria/"
    page.evaluate("window.__notReloaded = true")

    expect(page.locator("#conn")).to_have_text("live")
    card = page.locator(f'article[data-function="{FN}"]')
    expect(card).to_contain_text("GET /hello")
    expect(card.locator("table.aliases")).to_contain_text("live")
    expect(card.locator("table.aliases")).to_contain_text("v1 100%")
    expect(card.locator("table.versions")).to_contain_text("v1")
    expect(card.locator("table.versions")).to_contain_text(re.compile(r"just now|ago"))
    expect(page.locator("#alarms")).to_contain_text("HelloErrorsAlarm")
    save_screenshot(page, "signed-in.png", docs=False)


def test_e2e_a_faulty_version_is_rolled_back_live(canaria: Canaria, page: Page) -> None:
    # v3 fails every third request of a warm environment; the PreTraffic hook sends the
    # first, which always works, so the canary gets traffic and only real traffic fails.
    deployment_id = deploy(canaria, "v3")
    expect(page.locator("#dep-id")).to_have_text(deployment_id)
    d = until_traffic_shifts(canaria, deployment_id)
    assert d["state"] == "AllowTraffic", d
    expect(page.locator("#dep-state")).to_have_text("AllowTraffic")
    expect(page.locator("#lifecycle")).to_contain_text("running")
    card = page.locator(f'article[data-function="{FN}"]')
    expect(card.locator("table.aliases")).to_contain_text("90%")

    for _ in range(60):
        send_traffic(canaria, 40)
        canaria.advance(1)
        d = deployment(canaria, deployment_id)
        if d["completed"]:
            break
    assert d["state"] == "Stopped" and d["rolled_back"], d

    # the page follows by itself: same document, pushed over SSE
    expect(page.locator("#dep-state")).to_have_text("Stopped (rolled back)")
    expect(page.locator("#dep-why")).to_contain_text("Stopped by")
    expect(page.locator("#lifecycle")).to_contain_text("stopped")
    expect(page.locator("#lifecycle")).to_contain_text("Stopped (rolled back)")
    # what the judge could have caught, in words
    expect(page.locator("#judge-note")).to_contain_text(re.compile(r"After \d+ canary requests"))
    expect(card.locator("table.aliases")).to_contain_text("v1 100%")
    row = page.locator(f'#history tr[data-deployment="{deployment_id}"]')
    expect(row).to_contain_text("Stopped (rolled back)")
    expect(row).to_contain_text(re.compile(r"[1-9]\d* failed"))
    for button in ("Stop", "Promote", "Promote fully"):
        expect(page.get_by_role("button", name=button, exact=True)).to_be_disabled()
    expect(page.locator("#chart-rps .u-legend")).to_contain_text("(new)")
    assert page.evaluate("window.__notReloaded === true")
    save_screenshot(page, "rolled-back.png")

    # Prometheus's way: the bearer token (the session cookie is scoped to /canaria/)
    metrics = page.request.get(
        f"http://127.0.0.1:{canaria.control_port}/metrics",
        headers={"Authorization": f"Bearer {canaria.token()}"},
    )
    assert metrics.status == 200
    families = {f.name: f for f in text_string_to_metric_families(metrics.text())}
    errors = [s for s in families["canaria_errors"].samples if s.name == "canaria_errors_total"]
    assert any(s.labels["function"] == FN and s.value > 0 for s in errors), errors


def test_e2e_promote_fully_after_confirming(canaria: Canaria, page: Page) -> None:
    deployment_id = deploy(canaria, "v2")
    expect(page.locator("#dep-id")).to_have_text(deployment_id)
    d = until_traffic_shifts(canaria, deployment_id)
    assert d["state"] == "AllowTraffic", d
    send_traffic(canaria, 20)
    expect(page.locator("#dep-state")).to_have_text("AllowTraffic")
    promote = page.get_by_role("button", name="Promote fully")
    expect(promote).to_be_enabled()
    expect(page.locator('#actions code[data-cli="promote-full"]')).to_have_text(
        f"canaria promote {deployment_id} --full"
    )

    promote.click()  # first cancel: nothing happens
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(f"canaria promote {deployment_id} --full")
    page.locator("#confirm-cancel").click()
    expect(dialog).to_be_hidden()
    assert deployment(canaria, deployment_id)["state"] == "AllowTraffic"

    promote.click()
    expect(dialog).to_be_visible()
    page.locator("#confirm-ok").click()
    expect(page.locator("#dep-state")).to_have_text("Succeeded")
    expect(page.locator("#action-result")).to_contain_text(deployment_id)
    d = deployment(canaria, deployment_id)
    assert d["state"] == "Succeeded" and not d["rolled_back"]
    to_version = d["targets"][0]["to_version"]
    card = page.locator(f'article[data-function="{FN}"]')
    expect(card.locator("table.aliases")).to_contain_text(f"v{to_version} 100%")
    alias = canaria.alias(FN, "live")
    assert alias["version"] == to_version and alias["additional_version"] is None
    assert page.evaluate("window.__notReloaded === true")
    expect(page.locator("#history tbody tr")).to_have_count(len(history_ids(canaria)))
    save_screenshot(page, "overview.png")  # the application after its deployments


def history_ids(c: Canaria) -> list[str]:
    return [d["id"] for d in c.api().get("/deployments?limit=25")["deployments"]]


def test_e2e_a_guarded_deployment_shows_beside_local_ones(canaria: Canaria, page: Page) -> None:
    """`canaria guard --local --dry-run` rehearsed on this canaria: the deployment it
    watched, its evidence and what it would call appear in the guarded table, live."""
    # Without the template's alarm (Errors > 5 in a minute), which would otherwise race
    # the guard and could end the deployment before the guard's first decision.
    alarmed = canaria.template.read_text()
    detached = alarmed.replace("        Alarms:\n          - !Ref HelloErrorsAlarm\n", "")
    assert detached != alarmed
    template = canaria.template.with_name("template-without-alarm.yaml")
    template.write_text(detached)
    run = canaria.cli(
        "deploy",
        "-t",
        str(template),
        "--parameter-overrides",
        "AppVersion=v3",
        "--no-judge",
        "--json",
    )
    assert run.returncode == 0, run.stderr
    deployment_id = json.loads(run.stdout)["deployments"][0]["id"]
    assert until_traffic_shifts(canaria, deployment_id)["state"] == "AllowTraffic"
    for _ in range(60):
        send_traffic(canaria, 20)
        canaria.advance(1)
        guard = canaria.cli("guard", "--stack", "hello", "--local", "--dry-run", "--once")
        assert guard.returncode == 0, guard.stderr
        if "dry run: would call" in guard.stdout:
            break
    else:
        raise AssertionError(f"{deployment(canaria, deployment_id)['state']}: {guard.stdout}")
    row = page.locator("#guarded tbody tr", has_text=deployment_id)
    expect(row).to_contain_text(f"{FN}:live")
    expect(row).to_contain_text("(10%)")  # the weight CodeDeploy reports
    expect(row).to_contain_text("ROLLBACK; would: codedeploy StopDeployment")
    expect(row).to_contain_text("InProgress")
    expect(row).to_contain_text("dry run: would call")  # the latest event
    assert deployment(canaria, deployment_id)["state"] == "AllowTraffic"  # touched nothing
    assert page.evaluate("window.__notReloaded === true")
