"""Bootstrap confidence intervals: one estimate with its 95 % interval and n, and the paired
difference between two systems answered on the same questions.

Percentile bootstrap, ``resamples`` draws of n values with replacement, seeded so a report is
reproducible. Intervals of a statistic over n < 2 values are the value itself (no spread to
resample); an empty sample is NaN with n = 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

RESAMPLES = 2000
SEED = 0
Stat = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]  # (B, n) -> (B,)


def _mean(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(x.mean(axis=-1), dtype=np.float64)


def _median(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(np.median(x, axis=-1), dtype=np.float64)


STATS: dict[str, Stat] = {"mean": _mean, "median": _median}


@dataclass(frozen=True, slots=True)
class Estimate:
    """``value`` with its 95 % bootstrap interval [``lo``, ``hi``] over ``n`` values."""

    value: float
    lo: float
    hi: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"value": _json_float(self.value), "lo": _json_float(self.lo), "hi": _json_float(self.hi),
                "n": self.n}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Estimate:
        value, lo, hi = (math.nan if d[k] is None else float(d[k]) for k in ("value", "lo", "hi"))
        return cls(value, lo, hi, int(d["n"]))

    def format(self, digits: int = 3) -> str:
        """``0.712 [0.640, 0.780] n=106``; ``–`` for an empty sample."""
        if self.n == 0 or math.isnan(self.value):
            return "–"
        return f"{self.value:.{digits}f} [{self.lo:.{digits}f}, {self.hi:.{digits}f}] n={self.n}"


@dataclass(frozen=True, slots=True)
class PairedDiff:
    """B − A over the questions both answered: the mean difference, its 95 % interval, the
    two-sided bootstrap p-value (share of resampled means on the other side of 0, doubled) and n."""

    delta: float
    lo: float
    hi: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        """The 95 % interval excludes 0."""
        return self.n > 1 and (self.lo > 0 or self.hi < 0)

    def to_dict(self) -> dict[str, Any]:
        return {"delta": _json_float(self.delta), "lo": _json_float(self.lo), "hi": _json_float(self.hi),
                "p_value": _json_float(self.p_value), "n": self.n, "significant": self.significant}


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 6)


def _draws(n: int, resamples: int, seed: int) -> npt.NDArray[np.intp]:
    """(resamples, n) indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def bootstrap(values: Sequence[float], stat: str = "mean", *, resamples: int = RESAMPLES,
              seed: int = SEED) -> Estimate:
    """The statistic (``"mean"`` or ``"median"``) of ``values`` with its 95 % percentile interval."""
    if stat not in STATS:
        raise ValueError(f"unknown statistic {stat!r}; allowed: {', '.join(STATS)}")
    x = np.asarray(values, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    value = float(STATS[stat](x[None, :])[0])
    if n == 1:
        return Estimate(value, value, value, 1)
    dist = STATS[stat](x[_draws(n, resamples, seed)])
    lo, hi = np.percentile(dist, [2.5, 97.5])
    return Estimate(value, float(lo), float(hi), n)


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES,
                     seed: int = SEED) -> PairedDiff:
    """Mean of ``b[i] - a[i]`` with its interval and p-value; the questions are resampled as pairs."""
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} vs {len(b)}): pair them by question first")
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    n = int(d.size)
    if n == 0:
        return PairedDiff(math.nan, math.nan, math.nan, math.nan, 0)
    delta = float(d.mean())
    if n == 1:
        return PairedDiff(delta, delta, delta, 1.0, 1)
    means = d[_draws(n, resamples, seed)].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    # every difference 0: no evidence either way
    p = 1.0 if np.all(d == 0) else float(min(1.0, 2 * min(np.mean(means <= 0), np.mean(means >= 0))))
    return PairedDiff(delta, float(lo), float(hi), p, n)
