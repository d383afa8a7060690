import pytest

from canaria.controller.deployer import Build, PointAlias, Publish, StartDeployment, plan_release
from canaria.errors import InvalidRequest
from canaria.models import (
    Alias,
    Application,
    DeploymentPreference,
    FunctionConfig,
    FunctionSpec,
    Version,
)
from canaria.models.deployment import Target


def fn(
    name: str,
    env: dict[str, str] | None = None,
    pref: str | None = "AllAtOnce",
    alias: str | None = "live",
) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        config=FunctionConfig("app.handler", "python3.11", f"/code/{name}", env or {}),
        auto_publish_alias=alias,
        deployment_preference=DeploymentPreference(pref) if pref else None,
    )


def app(*specs: FunctionSpec) -> Application:
    return Application("t.yaml", {s.name: s for s in specs})


BUILDS = {n: Build(f"code-{n}", f"/art/{n}") for n in ("A", "B", "Hook")}


def test_first_release_publishes_and_points_aliases() -> None:
    plan = plan_release(app(fn("A"), fn("B")), BUILDS, {}, {})
    kinds = [type(i) for i in plan.changes]
    assert kinds == [Publish, Publish, PointAlias, PointAlias]
    assert plan.versions == {"A": 1, "B": 1}


def test_unchanged_release_is_empty_and_changed_one_deploys() -> None:
    first = plan_release(app(fn("A")), BUILDS, {}, {})
    pub = first.changes[0]
    assert isinstance(pub, Publish)
    v1 = Version("A", 1, pub.digest, pub.config, pub.artifact, 0.0)
    alias = {("A", "live"): Alias("A", "live", 1)}
    same = plan_release(app(fn("A")), BUILDS, {"A": v1}, alias)
    assert same.changes == () and same.describe()[-1].startswith("nothing to do")
    changed = plan_release(app(fn("A", {"X": "1"})), BUILDS, {"A": v1}, alias)
    assert [type(i) for i in changed.changes] == [Publish, StartDeployment]
    start = changed.changes[1]
    assert isinstance(start, StartDeployment)
    assert start.targets == (Target("A", "live", 1, 2),)


def test_code_change_changes_digest_but_location_does_not() -> None:
    a = plan_release(app(fn("A")), BUILDS, {}, {}).changes[0]
    b = plan_release(app(fn("A")), {"A": Build("other", "/art/x")}, {}, {}).changes[0]
    assert isinstance(a, Publish) and isinstance(b, Publish) and a.digest != b.digest


def test_version_placeholder_resolves_to_the_new_version() -> None:
    hook = fn("Hook", {"NewVersion": "arn:...:function:A:{{canaria:version:A}}"}, pref=None)
    plan = plan_release(app(hook, fn("A")), BUILDS, {}, {})
    pubs = [i for i in plan.changes if isinstance(i, Publish)]
    assert [p.function for p in pubs] == ["A", "Hook"]
    assert pubs[1].config.environment["NewVersion"] == "arn:...:function:A:1"


def test_no_preference_points_alias_directly() -> None:
    first = plan_release(app(fn("A", pref=None)), BUILDS, {}, {}).changes[0]
    assert isinstance(first, Publish)
    v1 = Version("A", 1, first.digest, first.config, first.artifact, 0.0)
    plan = plan_release(
        app(fn("A", {"X": "2"}, pref=None)),
        BUILDS,
        {"A": v1},
        {("A", "live"): Alias("A", "live", 1)},
    )
    assert isinstance(plan.changes[-1], PointAlias)
    assert plan.changes[-1].alias == Alias("A", "live", 2)


def test_group_merges_deployments_and_cycles_are_refused() -> None:
    olds = {}
    for n in ("A", "B"):
        p = plan_release(app(fn(n)), BUILDS, {}, {}).changes[0]
        assert isinstance(p, Publish)
        olds[n] = Version(n, 1, p.digest, p.config, p.artifact, 0.0)
    aliases = {(n, "live"): Alias(n, "live", 1) for n in ("A", "B")}
    plan = plan_release(
        app(fn("A", {"X": "1"}), fn("B", {"X": "1"})), BUILDS, olds, aliases, group=True
    )
    starts = [i for i in plan.changes if isinstance(i, StartDeployment)]
    assert len(starts) == 1 and len(starts[0].targets) == 2
    a = fn("A", {"V": "{{canaria:version:B}}"})
    b = fn("B", {"V": "{{canaria:version:A}}"})
    with pytest.raises(InvalidRequest, match="cycle"):
        plan_release(app(a, b), BUILDS, {}, {})
