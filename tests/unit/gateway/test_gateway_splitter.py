"""Version choice: smooth weighted round-robin, seeded random, pins, and Routing."""

from __future__ import annotations

import math
import random

import pytest

from canaria.errors import InvalidRequest, NotFound
from canaria.gateway import Routing
from canaria.gateway.splitter import AliasSplit
from canaria.models import Alias, RouteSpec


def canary(weight: float) -> Alias:
    return Alias("fn", "live", 1, 2, weight)


@pytest.mark.parametrize("weight", [0.1, 0.05, 0.33, 0.5, 0.01, 0.999])
def test_swrr_count_is_exact_at_every_prefix(weight: float) -> None:
    split = AliasSplit(canary(weight), "deterministic", random.Random(0))
    count = 0
    for n in range(1, 20_001):
        count += split.pick() == 2
        assert abs(count - n * weight) <= 1, (weight, n, count)
    assert abs(count - round(20_000 * weight)) <= 1


def test_swrr_ten_percent_is_one_in_every_ten_consecutive() -> None:
    split = AliasSplit(canary(0.1), "deterministic", random.Random(0))
    picks = [split.pick() for _ in range(1000)]
    for start in range(len(picks) - 10):
        assert picks[start : start + 10].count(2) == 1


def test_swrr_without_canary_always_primary() -> None:
    split = AliasSplit(Alias("fn", "live", 3), "deterministic", random.Random(0))
    assert {split.pick() for _ in range(100)} == {3}


def test_random_mode_is_seeded_and_fair() -> None:
    n, w = 20_000, 0.1
    a = AliasSplit(canary(w), "random", random.Random(42))
    b = AliasSplit(canary(w), "random", random.Random(42))
    seq_a = [a.pick() for _ in range(n)]
    assert seq_a == [b.pick() for _ in range(n)]  # same seed, same sequence
    count = seq_a.count(2)
    sigma = math.sqrt(n * w * (1 - w))
    assert abs(count - n * w) < 5 * sigma
    # and it is not the round-robin: some window of ten holds no canary, another two
    windows = [seq_a[i : i + 10].count(2) for i in range(0, n, 10)]
    assert 0 in windows and max(windows) >= 2


def routing(mode: str = "deterministic", seed: int | None = 1) -> Routing:
    r = Routing(split_mode=mode, seed=seed)  # type: ignore[arg-type]
    r.set_routes(
        [
            RouteSpec("GET", "/x", "http", "Api", "$default", "fn"),
            RouteSpec("GET", "/y", "http", "Api", "$default", "plain"),
        ],
        {"fn": "live"},
    )
    r.set_alias(canary(0.25))
    r.set_latest("plain", 7)
    return r


def test_choose_uses_the_routes_alias_or_latest() -> None:
    r = routing()
    picks = [r.choose("fn") for _ in range(8)]
    assert {alias for _, alias in picks} == {"live"}
    assert [v for v, _ in picks].count(2) == 2
    assert r.choose("plain") == (7, None)


def test_routed_versions_and_alias_listeners() -> None:
    r = routing()
    written: list[str] = []
    r.alias_listeners.append(written.append)
    r.set_latest("fn", 3)  # fn's routes go through its alias: latest is not routed
    assert r.routed_versions("fn") == {1, 2}
    assert r.routed_versions("plain") == {7}  # no alias: its latest is what runs
    r.set_alias(Alias("fn", "live", 1, 2, 0.0))  # a closed request gate still holds 2
    assert r.routed_versions("fn") == {1, 2}
    r.set_alias(Alias("fn", "live", 2))
    assert r.routed_versions("fn") == {2}
    assert written == ["fn", "fn"]
    assert r.routed_versions("nothing") == set()


def test_choose_refuses_unknown() -> None:
    r = routing()
    with pytest.raises(NotFound, match="no published version"):
        r.choose("nothing")
    r.set_routes([], {"ghost": "live"})
    with pytest.raises(NotFound, match="alias ghost:live does not exist"):
        r.choose("ghost")


def test_set_alias_resets_and_applies_to_the_next_request() -> None:
    r = routing()
    r.set_alias(canary(0.5))
    assert [r.choose("fn")[0] for _ in range(4)] == [1, 2, 1, 2]
    r.choose("fn")  # mid-cycle
    r.set_alias(Alias("fn", "live", 2))  # promote: the very next request goes to 2
    assert r.choose("fn") == (2, "live")
    r.set_alias(canary(0.5))  # a fresh cycle, not the old counters
    assert [r.choose("fn")[0] for _ in range(4)] == [1, 2, 1, 2]


@pytest.mark.parametrize(
    ("pin", "version"), [("candidate", 2), ("CANDIDATE", 2), ("stable", 1), ("1", 1), ("2", 2)]
)
def test_pins(pin: str, version: int) -> None:
    assert routing().choose("fn", pin=pin) == (version, "live")


def test_pin_to_a_version_the_alias_does_not_route_to() -> None:
    r = routing()
    with pytest.raises(InvalidRequest) as err:
        r.choose("fn", pin="5")
    assert "alias fn:live (routes to version 1 and 2)" in err.value.message
    with pytest.raises(InvalidRequest, match="cannot pin"):
        r.choose("fn", pin="newest")
    with pytest.raises(InvalidRequest, match=r"\$LATEST is version 7"):
        r.choose("plain", pin="3")
    assert r.choose("plain", pin="7") == (7, None)
    assert r.choose("plain", pin="candidate") == (7, None)


def test_candidate_pin_without_a_canary_is_the_primary() -> None:
    r = routing()
    r.set_alias(Alias("fn", "live", 4))
    assert r.choose("fn", pin="candidate") == (4, "live")
    with pytest.raises(InvalidRequest):
        r.choose("fn", pin="2")


def test_pinned_requests_do_not_disturb_the_round_robin() -> None:
    plain = routing()
    mixed = routing()
    expected = [plain.choose("fn")[0] for _ in range(40)]
    got = []
    for i in range(40):
        mixed.choose("fn", pin="candidate" if i % 2 else "stable")
        got.append(mixed.choose("fn")[0])
    assert got == expected


def test_switching_split_mode_rebuilds_splits() -> None:
    r = routing()
    r.set_split_mode("random", seed=3)
    assert r.split_mode == "random"
    picks = [r.choose("fn")[0] for _ in range(400)]
    assert 60 < picks.count(2) < 140
    assert r.alias("fn", "live") == canary(0.25)
