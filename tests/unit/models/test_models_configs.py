import pytest

from canaria.errors import InvalidRequest
from canaria.models import DeploymentConfigSpec
from canaria.models.configs import parse_step_list, steps_for
from canaria.models.deployment import ManualGate, RequestGate, SetWeight


def weights(name: str) -> list[tuple[float, float]]:
    out = []
    for s in steps_for(name, {}):
        assert isinstance(s, SetWeight)
        out.append((round(s.weight, 4), s.duration_s))
    return out


@pytest.mark.parametrize("minutes", [5, 10, 15, 30])
def test_predefined_canaries(minutes: int) -> None:
    expected = [(0.1, minutes * 60.0), (1.0, 0.0)]
    assert weights(f"Canary10Percent{minutes}Minutes") == expected
    assert weights(f"CodeDeployDefault.LambdaCanary10Percent{minutes}Minutes") == expected


@pytest.mark.parametrize(
    "name,minutes",
    [
        ("Linear10PercentEvery1Minute", 1),
        ("Linear10PercentEvery2Minutes", 2),
        ("Linear10PercentEvery3Minutes", 3),
        ("Linear10PercentEvery10Minutes", 10),
    ],
)
def test_predefined_linears(name: str, minutes: int) -> None:
    expected = [(k / 10, minutes * 60.0) for k in range(1, 10)] + [(1.0, 0.0)]
    assert weights(name) == expected
    assert weights("CodeDeployDefault.Lambda" + name) == expected


def test_all_at_once_and_custom() -> None:
    assert weights("AllAtOnce") == [(1.0, 0.0)]
    custom = {
        "Canary25": DeploymentConfigSpec("Canary25", "canary", 25, 3),
        "Lin33": DeploymentConfigSpec("Lin33", "linear", 33, 1),
    }
    assert [(s.weight, s.duration_s) for s in steps_for("Canary25", custom)] == [  # type: ignore[union-attr]
        (0.25, 180.0),
        (1.0, 0.0),
    ]
    lin = [round(s.weight, 2) for s in steps_for("Lin33", custom)]  # type: ignore[union-attr]
    assert lin == [0.33, 0.66, 0.99, 1.0]


def test_unknown_config_names_the_allowed_ones() -> None:
    with pytest.raises(InvalidRequest, match="Canary10Percent5Minutes"):
        steps_for("Canary5Percent", {})


def test_step_lists() -> None:
    steps = parse_step_list(
        [{"weight": 1, "duration": "2m"}, {"gate": "manual"}, {"requests": 5}, {"weight": 25}],
        where="cfg",
    )
    assert steps == (
        SetWeight(0.01, 120.0),
        ManualGate(),
        RequestGate(5),
        SetWeight(0.25, 0.0),
        SetWeight(1.0),
    )


@pytest.mark.parametrize(
    "raw,msg",
    [
        ([], "non-empty"),
        ([{"weight": 0}], "percentage"),
        ([{"weight": 50}, {"weight": 10}], "below"),
        ([{"gate": "auto"}], "allowed"),
        ([{"requests": 0}], "integer"),
        ([{"weight": 5, "duration": "soon"}], "duration"),
        (["x"], "mapping"),
    ],
)
def test_bad_step_lists(raw: list[object], msg: str) -> None:
    with pytest.raises(InvalidRequest, match=msg):
        parse_step_list(raw, where="cfg")
