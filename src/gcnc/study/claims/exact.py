"""Small-sample tests behind the verdicts: exact where the null distribution has a closed form,
Monte Carlo (seeded, stated in the row) where it has not.

- :func:`kendall_test`: Kendall's S, the number of concordant minus discordant pairs of runs,
  under random permutation of the outcome. With the knob taking a few values (runs at each value
  are its seeds) S is the Jonckheere-Terpstra statistic for an ordered alternative; with every x
  distinct it is Kendall's tau test. When the outcome has no ties the null distribution is exact:
  the concordant pairs across x-levels are the inversions of a random arrangement of the level
  labels, whose distribution is the sum of independent Mann-Whitney counts (the factorisation of
  the q-multinomial coefficient). Ties in the outcome: Monte Carlo.
- Strata (studies pooled, runs followed along training): S summed over strata, each permuted on
  its own; the exact distributions convolve.
- :func:`sign_flip_test`: a mean against a threshold, every sign flipped at random (exact up to
  16 values, Monte Carlo above).
- :func:`rms_below_test`: an RMS relative error against a tolerance, chi-square with n degrees of
  freedom for normal errors.

Every test returns one-sided p-values in both directions (``p_up``: the statistic is this large
or larger by chance; ``p_down``: this small or smaller); :func:`two_sided` combines them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
import scipy.stats

MONTE_CARLO = 20_000  # permutations where no exact distribution is used
EXACT_FLIPS = 16  # sign-flip tests enumerate all 2^n flips up to this n


@dataclass(frozen=True)
class Test:
    """A test's statistic, its one-sided p-values and how the null distribution was obtained."""

    statistic: float
    p_up: float
    p_down: float
    method: str
    n: int
    best_p: float = float("nan")  # the smallest two-sided p the design can reach (Kendall)

    @property
    def p(self) -> float:
        return two_sided(self.p_up, self.p_down)


def two_sided(p_up: float, p_down: float) -> float:
    """Twice the smaller one-sided p-value, at most 1 (NaN when either is NaN)."""
    if not (np.isfinite(p_up) and np.isfinite(p_down)):
        return float("nan")
    return float(min(1.0, 2.0 * min(p_up, p_down)))


@lru_cache(maxsize=4096)
def mann_whitney_null(m: int, n: int) -> np.ndarray:
    """P(U = u), u = 0..m*n: U the number of pairs (a, b), a among m values and b among n, with
    a < b, all (m + n)! orders equally likely. The largest value belongs to the n-sample with
    probability n / (m + n), and then sits above all m values."""
    if m == 0 or n == 0:
        return np.ones(1)
    out = np.zeros(m * n + 1)
    below = mann_whitney_null(m - 1, n)  # the largest value is one of the m
    out[: len(below)] += m / (m + n) * below
    above = mann_whitney_null(m, n - 1)  # one of the n: m more pairs
    out[m : m + len(above)] += n / (m + n) * above
    return out


def concordant_null(sizes: tuple[int, ...]) -> np.ndarray:
    """P(C = c): C the pairs of runs at different x-levels ordered alike in x and y, for levels
    of ``sizes`` runs (in x order) and an untied outcome: level i against all lower levels is a
    Mann-Whitney count, independent of the others."""
    dist, below = np.ones(1), 0
    for n in sizes:
        dist = np.convolve(dist, mann_whitney_null(below, n))
        below += n
    return dist


def _levels(x: np.ndarray) -> tuple[int, ...]:
    return tuple(np.unique(x, return_counts=True)[1])


def kendall_s(x: np.ndarray, y: np.ndarray) -> int:
    """Concordant minus discordant pairs (pairs tied in x or y count 0)."""
    sx = np.sign(x[:, None] - x[None, :])
    sy = np.sign(y[:, None] - y[None, :])
    return int(np.sum(np.triu(sx * sy, 1)))


def _tail(dist: np.ndarray, support: np.ndarray, observed: float) -> tuple[float, float]:
    up = float(dist[support >= observed - 1e-9].sum())
    down = float(dist[support <= observed + 1e-9].sum())
    return min(up, 1.0), min(down, 1.0)


def kendall_test(
    x: np.ndarray, y: np.ndarray, strata: np.ndarray | None = None, seed: int = 0
) -> Test:
    """Kendall's S of ``x`` and ``y`` summed over ``strata`` (one stratum when None), against
    independent random permutations of ``y`` within each stratum."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    strata = np.zeros(len(x)) if strata is None else np.asarray(strata)
    parts = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    observed = sum(kendall_s(x[i], y[i]) for i in parts)
    nan = Test(float(observed), np.nan, np.nan, "too few runs", len(x))
    if len(x) < 3 or all(len(np.unique(x[i])) < 2 for i in parts):
        return nan
    exact_dist, offset = np.ones(1), 0
    for i in parts:
        sizes = _levels(x[i])
        offset += sum(a * b for k, a in enumerate(sizes) for b in sizes[k + 1 :])
        exact_dist = np.convolve(exact_dist, concordant_null(sizes))
    support = 2 * np.arange(len(exact_dist)) - offset  # S = 2 C - (pairs across levels)
    best = two_sided(exact_dist[-1], exact_dist[0])
    if all(len(np.unique(y[i])) == len(i) for i in parts):
        p_up, p_down = _tail(exact_dist, support, observed)
        return Test(float(observed), p_up, p_down, "exact", len(x), best)
    rng = np.random.default_rng(seed)
    null = np.zeros(MONTE_CARLO)
    for i in parts:
        perms = rng.permuted(np.tile(y[i], (MONTE_CARLO, 1)), axis=1)
        sx = np.sign(x[i][:, None] - x[i][None, :])
        upper = np.triu(np.ones_like(sx), 1).astype(bool)
        sy = np.sign(perms[:, :, None] - perms[:, None, :])
        null += (sy[:, upper] * sx[upper]).sum(axis=1)
    p_up = (1 + np.sum(null >= observed)) / (MONTE_CARLO + 1)
    p_down = (1 + np.sum(null <= observed)) / (MONTE_CARLO + 1)
    method = f"Monte Carlo ({MONTE_CARLO:,} permutations; ties in the outcome)"
    return Test(float(observed), float(p_up), float(p_down), method, len(x), best)


def sign_flip_test(values: np.ndarray, threshold: float = 0.0, seed: int = 0) -> Test:
    """The sum of ``values - threshold`` against every (or random) sign flips: is the mean above
    (``p_up`` small) or below (``p_down`` small) the threshold?"""
    d = np.asarray(values, dtype=float) - threshold
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return Test(float(d.sum()), np.nan, np.nan, "too few values", len(d))
    if len(d) <= EXACT_FLIPS:
        signs = 1 - 2 * ((np.arange(2 ** len(d))[:, None] >> np.arange(len(d))) & 1)
        method = f"exact ({2 ** len(d)} sign flips)"
    else:
        signs = np.random.default_rng(seed).choice([-1, 1], size=(MONTE_CARLO, len(d)))
        method = f"Monte Carlo ({MONTE_CARLO:,} sign flips)"
    best = 2.0 / len(signs) if len(d) <= EXACT_FLIPS else 0.0
    null, observed = signs @ np.abs(d), d.sum()
    scale = 1e-12 * max(1.0, np.abs(d).sum())
    hits_up, hits_down = np.sum(null >= observed - scale), np.sum(null <= observed + scale)
    if len(d) <= EXACT_FLIPS:  # every flip: the exact tail probabilities
        p_up, p_down = hits_up / len(null), hits_down / len(null)
    else:  # the observed signs count as one of the draws: never a p of 0
        p_up, p_down = (1 + hits_up) / (len(null) + 1), (1 + hits_down) / (len(null) + 1)
    return Test(float(d.mean()), float(p_up), float(p_down), method, len(d), min(best, 1.0))


def rms_below_test(errors: np.ndarray, tolerance: float) -> Test:
    """Relative errors ``errors`` (estimate / truth - 1) of independent trials: is their RMS below
    ``tolerance``? Q = sum(e^2) / tolerance^2 is chi-square with n degrees of freedom when the
    errors are N(0, tolerance^2); ``p_down`` = P(Q this small), ``p_up`` = P(Q this large)."""
    e = np.asarray(errors, dtype=float)
    e = e[np.isfinite(e)]
    if len(e) < 2:
        return Test(float("nan"), np.nan, np.nan, "too few trials", len(e))
    q = float(np.sum(e**2) / tolerance**2)
    rms = float(np.sqrt(np.mean(e**2)))
    chi2 = scipy.stats.chi2(len(e))
    method = f"chi-square, {len(e)} df"
    return Test(rms, float(chi2.sf(q)), float(chi2.cdf(q)), method, len(e), 0.0)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family's p-values (NaN entries stay NaN, not counted)."""
    p = np.asarray(p, dtype=float)
    out = np.full(len(p), np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="mergesort")]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def named(test: Test, name: str) -> Test:
    """``test`` with its method prefixed by the test's name ('Jonckheere-Terpstra, exact')."""
    return replace(test, method=f"{name}, {test.method}")


def trend_test_name(x: Any) -> str:
    """Jonckheere-Terpstra where ``x`` takes a few values repeated over seeds (a knob), Kendall's
    tau test where every run has its own value (a metric)."""
    return "Jonckheere-Terpstra" if x.duplicated().any() else "Kendall's tau test"
