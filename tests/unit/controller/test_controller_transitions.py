import itertools

import pytest

from canaria.controller.transitions import ALLOWED, transition
from canaria.errors import IllegalTransition
from canaria.models.deployment import Deployment, SetWeight, State, Target


def make(state: State) -> Deployment:
    return Deployment(
        id="d-TEST00001",
        application="app",
        targets=(Target("Fn", "live", 1, 2),),
        config_name="AllAtOnce",
        steps=(SetWeight(1.0),),
        state=state,
    )


LEGAL = {
    (State.CREATED, State.BEFORE_ALLOW_TRAFFIC),
    (State.CREATED, State.FAILED),
    (State.CREATED, State.STOPPED),
    (State.BEFORE_ALLOW_TRAFFIC, State.ALLOW_TRAFFIC),
    (State.BEFORE_ALLOW_TRAFFIC, State.FAILED),
    (State.BEFORE_ALLOW_TRAFFIC, State.STOPPED),
    (State.ALLOW_TRAFFIC, State.AFTER_ALLOW_TRAFFIC),
    (State.ALLOW_TRAFFIC, State.FAILED),
    (State.ALLOW_TRAFFIC, State.STOPPED),
    (State.AFTER_ALLOW_TRAFFIC, State.SUCCEEDED),
    (State.AFTER_ALLOW_TRAFFIC, State.FAILED),
    (State.AFTER_ALLOW_TRAFFIC, State.STOPPED),
}


@pytest.mark.parametrize("src,dst", list(itertools.product(State, State)))
def test_every_pair_of_states(src: State, dst: State) -> None:
    d = make(src)
    if (src, dst) in LEGAL:
        new, event = transition(d, dst, 10.0, reason="because")
        assert new.state is dst
        assert new.updated_at == 10.0
        assert (new.completed_at == 10.0) == dst.completed
        assert event.data["from"] == src.value and event.data["to"] == dst.value
        assert "because" in event.message
    else:
        with pytest.raises(IllegalTransition, match=f"from {src.value} to {dst.value}"):
            transition(d, dst, 10.0, reason="because")


def test_table_matches_the_documented_lifecycle() -> None:
    assert {(s, t) for s, ts in ALLOWED.items() for t in ts} == LEGAL


def test_rolled_back_is_sticky_and_reason_kept_on_failure() -> None:
    d, _ = transition(
        make(State.ALLOW_TRAFFIC),
        State.STOPPED,
        5.0,
        reason="alarm X",
        error_code="ALARM_ACTIVE",
        stopped_by="alarm:X",
        rolled_back=True,
    )
    assert d.rolled_back and d.error_code == "ALARM_ACTIVE" and d.error_message == "alarm X"
    assert d.stopped_by == "alarm:X"
    assert d.state.codedeploy_status == "Stopped"
    assert make(State.ALLOW_TRAFFIC).state.codedeploy_status == "InProgress"
