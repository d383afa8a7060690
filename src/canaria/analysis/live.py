"""The judge fed request by request: short intervals fixed by start times, judged the
moment they are complete.

A ``LiveJudge`` follows one deployment target (a function, its canary and its stable
version). Each request belongs to the slot of ``SLOT_S`` (2 ms of virtual time) in which
it *started*; a slot closes once no request that started in it, or in the slot after it,
is still running and time has passed the end of that next slot. Closing feeds the slot's
counts to ``Judge.update`` at once, so a canary that fails every request is rolled back a
few milliseconds after its decisive failure, not at the controller's next one-second tick.

Why this keeps the judge's guarantee
    The proof in ``canaria.analysis.judge`` needs, for every interval, that given the
    past and the interval's invocation counts, the events fall on either version as the
    hypergeometric law says (or less on the canary) when the canary is no worse. A
    request's interval here is a function of its start time alone, and which version
    serves it is decided before it runs (by the alias's split, random or round-robin), so
    membership and counts never depend on any outcome inside the interval; waiting for
    the interval to be complete makes the set of its requests exactly "those started in
    it". The same set would have been judged by an observer who closed the interval at
    a fixed time long after it: only *when* the update happens changes, which the
    e-process allows (Ville's inequality holds for every stopping time). Intervals are
    judged in the order of their slots: judging a complete later one first would let
    completion times, which can depend on outcomes, choose the order; so a slow request
    holds the intervals after it (a new version's first request, a cold start, does).
    Closing instead at a canary error would make the boundary depend on outcomes, which
    the proof does not cover. Two departures are counted, not hidden: an interval served by only one
    version carries no evidence and is merged with the next (a rule on invocation counts,
    not outcomes), and a result that arrives after its slot closed (``late``) is judged
    with the first open slot. Late results are those of requests that had to wait for
    an execution environment (a cold start, or every environment busy): such a request
    stops holding its slot the moment it is known to wait, which the pool decides
    before the request runs, so a cold start of a hundred milliseconds no longer holds
    every interval after it while the canary keeps failing (and starts the metrics never
    saw).

Restarts
    ``since`` is the start of the first slot whose results are not yet in ``state``; the
    pair is persisted together, so a judge rebuilt from it ignores every result that
    started earlier (counted already) and counts every later one once.

Per request: a dict look-up and a few integer additions; ``Judge.update`` runs once per
closed interval (at most one every ``SLOT_S``), not per request.
"""

from __future__ import annotations

import math

from canaria.analysis.judge import Judge, JudgeState, TickCounts, Verdict

__all__ = ["SLOT_S", "LiveJudge"]

SLOT_S = 0.002
_FIELDS = 8  # TickCounts: invocations, errors, faults, slow; canary then stable each


class LiveJudge:
    """One target's e-processes, advanced as its requests finish (module docstring)."""

    __slots__ = (
        "_carry",
        "_carry_from",
        "_closed",
        "_latest",
        "_open",
        "_origin",
        "_pending",
        "canary",
        "judge",
        "late",
        "slot_s",
        "slow_ms",
        "stable",
        "state",
    )

    def __init__(
        self,
        judge: Judge,
        state: JudgeState,
        since: float,
        canary: int,
        stable: int,
        slot_s: float = SLOT_S,
    ) -> None:
        self.judge = judge
        self.state = state
        self.canary = canary
        self.stable = stable
        self.slot_s = slot_s
        self._origin = self._slot(since + slot_s / 2)  # ``since`` is on the grid
        self._closed = self._origin - 1
        self._pending: dict[int, int] = {}  # slot -> requests started in it, still running
        self._open: dict[int, list[int]] = {}  # slot -> counts (the TickCounts fields)
        self._carry: list[int] | None = None  # one-sided counts waiting for the other side
        self._carry_from = 0
        self._latest = -math.inf
        self.slow_ms: float | None = None  # "slow" threshold; None: not judged yet
        self.late = 0

    def _slot(self, t: float) -> int:
        return math.floor(t / self.slot_s)

    @property
    def since(self) -> float:
        """Start of the first slot whose results ``state`` does not hold yet."""
        first = self._carry_from if self._carry is not None else self._closed + 1
        return first * self.slot_s

    def started(self, t: float) -> None:
        """A request of the function went in flight at ``t`` (any version)."""
        slot = self._slot(t)
        self._pending[slot] = self._pending.get(slot, 0) + 1
        if t > self._latest:
            self._latest = t

    def finished(
        self,
        started: float,
        version: int,
        *,
        error: bool,
        fault: bool,
        throttled: bool,
        duration_ms: float,
        cold_start: bool,
        waited: bool = False,
    ) -> None:
        """A request that started at ``started`` ended (``waited``: ``waiting`` was called
        for it). Call ``advance`` afterwards."""
        slot = self._slot(started)
        if not waited:
            self._release(slot)
        if slot < self._origin or version not in (self.canary, self.stable):
            return
        if slot <= self._closed:
            self.late += 1
            slot = self._closed + 1
        counts = self._open.get(slot)
        if counts is None:
            counts = self._open[slot] = [0] * _FIELDS
        side = 0 if version == self.canary else 1
        if not throttled:
            counts[side] += 1
            if error:
                counts[2 + side] += 1
            slow = self.slow_ms
            if slow is not None and not cold_start and duration_ms > slow:
                counts[6 + side] += 1
        if fault:
            counts[4 + side] += 1

    def waiting(self, t: float) -> None:
        """The request that started at ``t`` waits for an execution environment (one
        starting for it, or a busy one to free up): it stops holding its slot, and its
        result, if it comes after the slot closed, is judged as a late one. Call
        ``advance`` afterwards."""
        self._release(self._slot(t))

    def _release(self, slot: int) -> None:
        pending = self._pending
        n = pending.get(slot)  # its start was counted in this slot, at the same time
        if n:
            if n == 1:
                del pending[slot]
            else:
                pending[slot] = n - 1

    def forget_starts(self, in_flight: int) -> None:
        """Drop the oldest starts beyond the ``in_flight`` requests really running (a
        start whose end is never recorded must not hold its slot open for ever)."""
        extra = sum(self._pending.values()) - in_flight
        for slot in sorted(self._pending):
            if extra <= 0:
                break
            drop = min(extra, self._pending[slot])
            extra -= drop
            if drop == self._pending[slot]:
                del self._pending[slot]
            else:
                self._pending[slot] -= drop

    def advance(self, now: float) -> bool:
        """Close every complete slot up to ``now`` and judge it; True when this rolled the
        canary back (the verdict is latched in ``state``)."""
        if now > self._latest:
            self._latest = now
        upto = self._slot(self._latest) - 2
        if self._pending:
            upto = min(upto, min(self._pending) - 2)
        if upto <= self._closed:
            return False
        before = self.state.decided
        for slot in sorted(k for k in self._open if k <= upto):
            self._judge(slot, self._open.pop(slot))
        self._closed = upto
        return before is None and self.state.decided is Verdict.ROLLBACK

    def _judge(self, slot: int, counts: list[int]) -> None:
        if self._carry is None:
            self._carry_from = slot
        else:
            counts = [a + b for a, b in zip(self._carry, counts, strict=True)]
        if (counts[0] == 0) != (counts[1] == 0):
            self._carry = counts  # one version alone says nothing of their difference
            return
        self._carry = None
        self.state, _ = self.judge.update(self.state, TickCounts(*counts))
