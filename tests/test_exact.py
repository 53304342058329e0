"""The claims' tests against brute force: every permutation (or sign flip) enumerated, and the
closed forms they rest on (the Mann-Whitney recursion, Holm's adjustment, the chi-square law)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from gcnc.study.claims.exact import (
    holm,
    kendall_s,
    kendall_test,
    mann_whitney_null,
    rms_below_test,
    sign_flip_test,
)


def brute_kendall(x: np.ndarray, y: np.ndarray, strata: np.ndarray) -> tuple[float, float]:
    """One-sided p-values of S summed over strata, every within-stratum permutation of y."""
    parts = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    observed = sum(kendall_s(x[i], y[i]) for i in parts)
    nulls = [
        [kendall_s(x[i], y[i][list(p)]) for p in itertools.permutations(range(len(i)))]
        for i in parts
    ]
    total = np.array([sum(c) for c in itertools.product(*nulls)])
    return float(np.mean(total >= observed)), float(np.mean(total <= observed))


@settings(max_examples=40, deadline=None)
@given(
    levels=st.lists(st.integers(1, 3), min_size=2, max_size=3).filter(lambda v: sum(v) <= 7),
    seed=st.integers(0, 10_000),
)
def test_kendall_exact_equals_every_permutation(levels, seed):
    """Knob levels with 1-3 seeds each (x tied within a level), an untied outcome."""
    x = np.repeat(np.arange(len(levels), dtype=float), levels)
    y = np.random.default_rng(seed).normal(size=len(x))
    if len(x) < 3:
        return
    test = kendall_test(x, y)
    up, down = brute_kendall(x, y, np.zeros(len(x)))
    assert test.method == "exact"
    assert test.p_up == pytest.approx(up) and test.p_down == pytest.approx(down)


def test_stratified_kendall_equals_every_permutation_within_strata():
    rng = np.random.default_rng(3)
    x = np.array([1, 2, 3, 1, 2, 3, 4, 1, 1, 2.0])
    strata = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    for _ in range(5):
        y = rng.normal(size=len(x))
        test = kendall_test(x, y, strata)
        assert (test.p_up, test.p_down) == pytest.approx(brute_kendall(x, y, strata))


def test_ties_in_the_outcome_fall_back_to_monte_carlo_close_to_the_exact_law():
    x = np.array([1, 1, 2, 2, 3, 3.0])
    y = np.array([1, 1, 2, 3, 3, 4.0])
    test = kendall_test(x, y, seed=0)
    up, down = brute_kendall(x, y, np.zeros(6))
    assert test.method.startswith("Monte Carlo")
    assert test.p_up == pytest.approx(up, abs=0.005) and test.p_down == pytest.approx(down)


def test_a_perfect_order_reaches_the_design_s_smallest_p():
    """3 knob values x s seeds, perfectly ordered: p = 2 / (3s)! * (s!)^3 (one arrangement of
    the multinomial in each tail)."""
    for s in (2, 3, 4):
        x = np.repeat([0.01, 0.05, 0.2], s)
        y = np.arange(3 * s, dtype=float)
        test = kendall_test(x, y)
        arrangements = math.factorial(3 * s) / math.factorial(s) ** 3
        assert test.p == pytest.approx(2 / arrangements)
        assert test.best_p == pytest.approx(2 / arrangements)
        assert kendall_test(x, -y).p_down == pytest.approx(1 / arrangements)


def test_all_x_distinct_is_kendall_s_tau_test():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=9), rng.normal(size=9)
    ours = kendall_test(x, y)
    theirs = scipy.stats.kendalltau(x, y, method="exact")
    assert ours.p == pytest.approx(theirs.pvalue)


@given(st.integers(0, 7), st.integers(0, 7))
def test_mann_whitney_null_is_a_distribution_with_the_right_mean(m, n):
    dist = mann_whitney_null(m, n)
    assert dist.sum() == pytest.approx(1.0)
    assert (np.arange(len(dist)) * dist).sum() == pytest.approx(m * n / 2)


def test_sign_flip_test_equals_every_flip():
    values = np.array([0.3, -0.1, 0.25, 0.05, 0.4])
    test = sign_flip_test(values, threshold=0.02)
    d = values - 0.02
    flips = np.array(list(itertools.product([-1, 1], repeat=len(d)))) @ np.abs(d)
    assert test.p_up == pytest.approx(np.mean(flips >= d.sum() - 1e-12))
    assert test.p_down == pytest.approx(np.mean(flips <= d.sum() + 1e-12))
    assert test.best_p == pytest.approx(2 / 2**5)


def test_rms_test_follows_the_chi_square_law():
    """Under the null (errors N(0, tol^2)) p_down is uniform: its 5% quantile is near 0.05."""
    rng = np.random.default_rng(0)
    p = [rms_below_test(rng.normal(0, 0.05, size=5), 0.05).p_down for _ in range(1500)]
    assert np.mean(np.array(p) <= 0.05) == pytest.approx(0.05, abs=0.02)
    small = rms_below_test(np.full(5, 0.001), 0.05)
    assert small.p_down < 1e-4 and small.statistic == pytest.approx(0.001)


def test_holm_matches_its_definition():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # sorted: 0.005 (x4), 0.01 (x3), 0.03 (x2), 0.04 (x1), cumulative maximum
    np.testing.assert_allclose(holm(p), [0.03, 0.06, np.nan, 0.06, 0.02])
    assert np.isnan(holm(np.array([np.nan]))).all()


def test_monte_carlo_p_values_are_never_zero():
    """Beyond 16 values the sign flips are drawn: the observed signs count as one draw."""
    test = sign_flip_test(np.full(30, 0.5))
    assert test.p_up == pytest.approx(1 / 20_001) and test.method.startswith("Monte Carlo")
