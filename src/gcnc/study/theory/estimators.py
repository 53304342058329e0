"""Sample-based estimators of a Poincare constant from a class's inputs (estimators 3 and 4 of
:mod:`gcnc.study.theory.poincare`, whose docstring says what each is and is not): linear test
functions with a one-sided lower confidence bound by sample splitting, and a Rayleigh-Ritz
estimate over a fixed polynomial basis."""

from __future__ import annotations

import itertools

import numpy as np
import scipy.linalg
import scipy.stats

from gcnc.study.constants import RITZ_DEGREE, RITZ_DIMS

RITZ_REPEATS = 5
CONFIDENCE = 0.95
MIN_HALF = 10  # fewest examples per half for estimator 3's bound
LINEAR, RITZ = "linear_test_functions", "ritz_polynomial"


def _top_axis(x: np.ndarray) -> tuple[float, np.ndarray]:
    """lambda_max of the sample covariance (1/n) of ``x`` (n x d) and its unit eigenvector."""
    xc = x - x.mean(0)
    n, d = xc.shape
    # the smaller of the covariance (d x d) and the Gram matrix (n x n): same non-zero spectrum
    form = xc.T @ xc / n if d <= n else xc @ xc.T / n
    top = len(form) - 1
    vals, vecs = scipy.linalg.eigh(form, subset_by_index=[top, top])
    w = vecs[:, 0] if d <= n else xc.T @ vecs[:, 0]
    return float(vals[0]), w / np.linalg.norm(w)


def sample_lambda_max(x: np.ndarray) -> float:
    """lambda_max of the sample covariance: the sample supremum over linear test functions
    (biased upward as an estimate of lambda_max(Cov_Q); the ``point`` of estimator 3)."""
    return _top_axis(np.asarray(x, dtype=np.float64).reshape(len(x), -1))[0]


def variance_lower_bound(z: np.ndarray, confidence: float = CONFIDENCE) -> float:
    """One-sided lower confidence bound for Var(z) from an i.i.d. sample ``z``: the smaller of
    the chi-square bound (n-1) s^2 / chi2_{conf, n-1}, exact for normal z and conservative for
    light tails, and Bonett's (2006) kurtosis-adjusted bound, which needs no normality but covers
    only ~94% for light-tailed z at n = 50: exp(ln(k s^2) - q se), q the normal quantile,
    k = n / (n - q), se = k sqrt((kurt - (n-3)/n) / (n-1)), the kurtosis taken about a trimmed mean
    (trim 1 / (2 sqrt(n - 4))). NaN for n < MIN_HALF.
    """
    z = np.asarray(z, dtype=np.float64)
    n = len(z)
    if n < MIN_HALF:
        return float("nan")
    s2 = z.var(ddof=1)
    if s2 == 0:
        return 0.0
    chi2 = (n - 1) * s2 / scipy.stats.chi2.ppf(confidence, n - 1)
    q = scipy.stats.norm.ppf(confidence)
    m = scipy.stats.trim_mean(z, 1 / (2 * np.sqrt(n - 4)))
    kurt = n * np.sum((z - m) ** 4) / np.sum((z - z.mean()) ** 2) ** 2
    k = n / (n - q)
    se = k * np.sqrt(max(kurt - (n - 3) / n, 0.0) / (n - 1))
    return float(min(np.exp(np.log(k * s2) - q * se), chi2))


def linear_split(x: np.ndarray, seed: int = 0) -> tuple[float, np.ndarray]:
    """Sample splitting for estimator 3: (lambda_max of half A, half B projected on A's top axis).

    Given A, the projections are an i.i.d. sample of w^T x with variance w^T Cov_Q w <= c.
    (NaN, no projections) for fewer than 2 * MIN_HALF examples."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    if len(x) < 2 * MIN_HALF:
        return float("nan"), np.empty(0)
    a, b = np.array_split(np.random.default_rng(seed).permutation(len(x)), 2)
    lam_a, w = _top_axis(x[a])
    return lam_a, x[b] @ w


def _exponents(dim: int, degree: int) -> np.ndarray:
    exps = {
        e
        for total in range(1, degree + 1)
        for e in itertools.product(range(total + 1), repeat=dim)
        if sum(e) == total
    }
    return np.array(sorted(exps))


def _basis(u: np.ndarray, exps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monomials phi (n x m) and their gradients (d x n x m) at the points u."""
    phi = np.prod(u[:, None, :] ** exps[None], axis=2)
    grads = []
    for j in range(u.shape[1]):
        lowered = exps.copy()
        lowered[:, j] = np.maximum(lowered[:, j] - 1, 0)
        grads.append(exps[:, j] * np.prod(u[:, None, :] ** lowered[None], axis=2))
    return phi, np.stack(grads)


def _forms(
    phi: np.ndarray, grads: np.ndarray, ridge: float = 1e-8
) -> tuple[np.ndarray, np.ndarray]:
    a = np.atleast_2d(np.cov(phi.T, bias=True))
    b = np.einsum("dni,dnj->ij", grads, grads) / phi.shape[0]
    return a, b + ridge * np.trace(b) / len(b) * np.eye(len(b))


def ritz_estimate(
    x: np.ndarray,
    degree: int = RITZ_DEGREE,
    dims: int = RITZ_DIMS,
    repeats: int = RITZ_REPEATS,
    seed: int = 0,
) -> float:
    """Cross-fitted Rayleigh-Ritz estimate from samples ``x`` (n x d) over polynomials of degree
    <= ``degree`` in the top ``dims`` principal coordinates: a fixed basis, so it estimates a
    lower bound on c, not c (estimator 4 of the module docstring)."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    x = x - x.mean(0)
    if x.shape[1] > dims:  # restrict to the top principal coordinates (orthonormal projection)
        _, _, vt = np.linalg.svd(x, full_matrices=False)
        x = x @ vt[:dims].T
    scale = x.std()
    u = x / scale
    phi, grads = _basis(u, _exponents(u.shape[1], degree))
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(repeats):
        halves = np.array_split(rng.permutation(len(u)), 2)
        for fit, held in (halves, halves[::-1]):
            a, b = _forms(phi[fit], grads[:, fit])
            w = scipy.linalg.eigh(a, b)[1][:, -1]
            a_h, b_h = _forms(phi[held], grads[:, held])
            values.append((w @ a_h @ w) / (w @ b_h @ w))
    return float(scale**2 * np.mean(values))


def subsample(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]


def common_lower_bound(splits: list[tuple[float, np.ndarray]]) -> float:
    """Lower confidence bound on max_i c_i from the classes' :func:`linear_split` outputs: the
    bound of the class whose half-A lambda_max is largest (chosen without the B halves)."""
    lam_a = np.array([lam for lam, _ in splits])
    if not np.isfinite(lam_a).any():
        return float("nan")
    return variance_lower_bound(splits[int(np.nanargmax(lam_a))][1])
