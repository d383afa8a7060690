"""Which version of an alias serves a request.

Deterministic mode is nginx's smooth weighted round-robin on integer weights (parts per
million, so no float drift): every pick adds each version's weight to its counter, takes
the version with the larger counter (the primary on a tie) and takes the total off the
winner. With a canary weight ``w`` the canary's count after ``n`` picks is within one of
``n·w`` at every ``n``, and a weight of 0.1 gives exactly one canary request in every ten
consecutive ones — Lambda's own split is "a simple probabilistic model, high variance at
low traffic", which makes a 10-request rehearsal meaningless.

Random mode draws from a seeded ``random.Random``, as Lambda does (reproducibly).

A pin (header ``X-Canaria-Version`` or cookie ``canaria-version``) picks a version without
touching the counters: ``candidate`` (the additional version; the primary when the alias
has none), ``stable`` (the primary), or a version number the alias routes to.
"""

from __future__ import annotations

import random

from canaria.errors import InvalidRequest
from canaria.models import Alias

from .types import SplitMode

SCALE = 1_000_000


class AliasSplit:
    """The picking state of one alias at one configuration. Replaced, never edited, when
    the alias changes: a change resets the round-robin."""

    __slots__ = ("_cand", "_cur_c", "_cur_p", "_rng", "_wc", "_wp", "alias", "primary")

    def __init__(self, alias: Alias, mode: SplitMode, rng: random.Random) -> None:
        self.alias = alias
        self.primary = alias.version
        weight = alias.additional_weight if alias.additional_version is not None else 0.0
        self._cand = alias.additional_version if alias.additional_version is not None else 0
        self._wc = round(weight * SCALE)
        self._wp = SCALE - self._wc
        self._cur_p = 0
        self._cur_c = 0
        self._rng = rng if mode == "random" else None

    def versions(self) -> tuple[int, ...]:
        """The versions this split can pick (a 0-weight additional version included)."""
        extra = self.alias.additional_version
        return (self.primary,) if extra is None else (self.primary, extra)

    def pick(self) -> int:
        wc = self._wc
        if wc == 0:
            return self.primary
        rng = self._rng
        if rng is not None:
            return self._cand if rng.random() * SCALE < wc else self.primary
        cur_p = self._cur_p + self._wp
        cur_c = self._cur_c + wc
        if cur_c > cur_p:
            self._cur_p = cur_p
            self._cur_c = cur_c - SCALE
            return self._cand
        self._cur_p = cur_p - SCALE
        self._cur_c = cur_c
        return self.primary


def resolve_pin(alias: Alias | None, latest: int | None, pin: str, function: str) -> int:
    """The version a pin names, or InvalidRequest saying what the alias routes to."""
    value = pin.strip().lower()
    if alias is None:
        if latest is None:
            raise InvalidRequest(f"{function} has no published version")
        allowed: tuple[int, ...] = (latest,)
        if value in ("candidate", "stable"):
            return latest
        where = f"{function} ($LATEST is version {latest})"
    else:
        if value == "candidate":
            extra = alias.additional_version
            return extra if extra is not None else alias.version
        if value == "stable":
            return alias.version
        allowed = (
            (alias.version,)
            if alias.additional_version is None
            else (alias.version, alias.additional_version)
        )
        where = (
            f"alias {alias.function}:{alias.name} (routes to version "
            + (" and ".join(str(v) for v in allowed))
            + ")"
        )
    if value.isdigit() and int(value) in allowed:
        return int(value)
    raise InvalidRequest(
        f"cannot pin to version {pin!r}: {where}; use 'candidate', 'stable' or one of "
        f"{', '.join(str(v) for v in allowed)}"
    )
