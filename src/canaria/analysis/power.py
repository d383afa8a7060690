"""What the judge could have caught: the smallest canary failure rate it detects.

Pure arithmetic, no I/O. The rollback e-process of the ``errors`` metric
(``canaria.analysis.judge``) multiplies, per grid ratio ``r`` and per closed interval
with ``ci`` canary and ``si`` stable invocations (``w = ci / (ci + si)``), its likelihood
ratio by ``exp(c·ln r − (c + b)·ℓ)`` with ``ℓ = ln(1 + w·(r − 1))``, where ``c`` and ``b``
are the interval's canary and stable errors. Suppose the canary fails each request with
probability ``p`` and the stable version with ``p0`` (its observed rate). Over the
intervals seen so far, ``log L_r`` then has

    mean  μ_r(p) = p·(Nc·ln r − A_r) − p0·B_r
    var   σ²_r(p) = p·(1 − p)·Vc_r + p0·(1 − p0)·Vs_r

with ``Nc = Σ ci``, ``A_r = Σ ci·ℓ``, ``B_r = Σ si·ℓ``, ``Vc_r = Σ ci·(ln r − ℓ)²`` and
``Vs_r = Σ si·ℓ²`` — sums the judge keeps as it goes (``PowerSums``), whatever the
traffic split did between intervals. The mixture ``E = Σ π_r·L_r`` is at least
``π_r·L_r`` for every ``r``, so the judge would have rolled back (with probability about
``1 − β``, by the normal approximation) when for some ``r``

    ln π_r + μ_r(p) − z_β·σ_r(p) ≥ ln(M / α).

``detectable`` returns the smallest such ``p`` (searched on a fine geometric grid above
``p0``), or None when not even a canary failing every request would have been caught.
This looks only at the e-process's value at the end, not at its running maximum (the
judge rolls back at the first crossing), so the figure errs on the safe side.

In a sentence for a release manager: "with what the canary has served so far, a new
version failing at least this share of its requests would have been rolled back, 19
times out of 20".
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["POWER_Z", "PowerSums", "detectable", "power_from_json", "power_to_json"]

POWER_Z = 1.6449  # one-sided 95 %: "caught 19 times out of 20"
_SEARCH_POINTS = 240
_SEARCH_FLOOR = 1e-4


@dataclass(frozen=True)
class PowerSums:
    """Sums over the judge's closed intervals (see the module docstring); one value per
    grid ratio in ``a``, ``b``, ``vc`` and ``vs``."""

    canary: int
    stable: int
    a: tuple[float, ...]
    b: tuple[float, ...]
    vc: tuple[float, ...]
    vs: tuple[float, ...]

    @staticmethod
    def empty(size: int) -> PowerSums:
        zeros = (0.0,) * size
        return PowerSums(0, 0, zeros, zeros, zeros, zeros)

    def add(self, log_r: Sequence[float], rm1: Sequence[float], ci: int, si: int) -> PowerSums:
        """The sums after one interval with ``ci`` canary and ``si`` stable invocations
        (unchanged when either is zero: such an interval carries no evidence)."""
        if ci <= 0 or si <= 0:
            return self
        w = ci / (ci + si)
        ells = [math.log1p(w * x) for x in rm1]
        return PowerSums(
            self.canary + ci,
            self.stable + si,
            tuple(a + ci * ell for a, ell in zip(self.a, ells, strict=True)),
            tuple(b + si * ell for b, ell in zip(self.b, ells, strict=True)),
            tuple(
                v + ci * (lr - ell) ** 2 for v, lr, ell in zip(self.vc, log_r, ells, strict=True)
            ),
            tuple(v + si * ell * ell for v, ell in zip(self.vs, ells, strict=True)),
        )


def _caught(
    sums: PowerSums,
    log_r: Sequence[float],
    log_prior: Sequence[float],
    log_threshold: float,
    p: float,
    p0: float,
    z: float,
) -> bool:
    for i, lr in enumerate(log_r):
        mean = p * (sums.canary * lr - sums.a[i]) - p0 * sums.b[i]
        var = p * (1.0 - p) * sums.vc[i] + p0 * (1.0 - p0) * sums.vs[i]
        if log_prior[i] + mean - z * math.sqrt(max(var, 0.0)) >= log_threshold:
            return True
    return False


def detectable(
    sums: PowerSums,
    log_r: Sequence[float],
    log_prior: Sequence[float],
    log_threshold: float,
    p0: float,
    z: float = POWER_Z,
) -> float | None:
    """The smallest canary failure rate the judge would have caught (see the module
    docstring), given the stable version's failure rate ``p0``; None if even 100 % would
    not have been caught, or nothing has been observed yet."""
    if sums.canary == 0 or sums.stable == 0:
        return None
    if not _caught(sums, log_r, log_prior, log_threshold, 1.0, p0, z):
        return None
    lo = math.log(max(p0, _SEARCH_FLOOR))
    step = -lo / _SEARCH_POINTS
    for k in range(1, _SEARCH_POINTS + 1):
        p = min(1.0, math.exp(lo + k * step))
        if _caught(sums, log_r, log_prior, log_threshold, p, p0, z):
            return p
    return 1.0


def power_to_json(sums: PowerSums) -> dict[str, Any]:
    return {
        "canary": sums.canary,
        "stable": sums.stable,
        "a": list(sums.a),
        "b": list(sums.b),
        "vc": list(sums.vc),
        "vs": list(sums.vs),
    }


def power_from_json(raw: Mapping[str, Any], size: int) -> PowerSums:
    try:
        sums = PowerSums(
            int(raw["canary"]),
            int(raw["stable"]),
            tuple(float(x) for x in raw["a"]),
            tuple(float(x) for x in raw["b"]),
            tuple(float(x) for x in raw["vc"]),
            tuple(float(x) for x in raw["vs"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"malformed judge power sums: {e}") from None
    if any(len(v) != size for v in (sums.a, sums.b, sums.vc, sums.vs)):
        raise ValueError(f"judge power sums do not match a grid of {size}")
    return sums
