"""Bootstrap intervals: against values computed by hand and known properties."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.stats import Estimate, bootstrap, paired_bootstrap


def test_bootstrap_mean_and_interval() -> None:
    values = [1.0] * 30 + [0.0] * 70
    e = bootstrap(values)
    assert e.value == pytest.approx(0.3) and e.n == 100
    # normal approximation of a proportion's 95 % interval: 0.3 ± 1.96 * sqrt(0.21 / 100) = ±0.0898
    assert e.lo == pytest.approx(0.3 - 0.0898, abs=0.02) and e.hi == pytest.approx(0.3 + 0.0898, abs=0.02)
    assert bootstrap(values) == e  # seeded


def test_bootstrap_median_and_edge_cases() -> None:
    assert bootstrap([3.0, 1.0, 2.0], "median").value == 2.0
    one = bootstrap([0.7])
    assert (one.value, one.lo, one.hi, one.n) == (0.7, 0.7, 0.7, 1)
    empty = bootstrap([])
    assert empty.n == 0 and math.isnan(empty.value) and empty.format() == "–"
    with pytest.raises(ValueError, match="unknown statistic 'mode'; allowed: mean, median"):
        bootstrap([1.0], "mode")


def test_estimate_round_trips_and_formats() -> None:
    e = Estimate(0.5, 0.25, 0.75, 8)
    assert Estimate.from_dict(e.to_dict()) == e
    assert e.format(2) == "0.50 [0.25, 0.75] n=8"


def test_paired_bootstrap_detects_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2, 200).astype(float)
    better = np.where(rng.random(200) < 0.3, 1.0, a)  # B fixes ~30 % of the questions
    d = paired_bootstrap(list(a), list(better))
    assert d.delta > 0 and d.significant and d.p_value < 0.01 and d.n == 200
    same = paired_bootstrap(list(a), list(a))
    assert same.delta == 0 and not same.significant and same.p_value == 1.0


def test_paired_bootstrap_needs_pairs() -> None:
    with pytest.raises(ValueError, match=r"paired samples differ in length \(2 vs 1\)"):
        paired_bootstrap([1.0, 0.0], [1.0])
