"""Poincare-constant estimation (paper Section 4.1; shared/paper_reference.md Sections 1.4, 1.8).

A distribution Q satisfies Var_Q(g) <= c E_Q ||grad g||^2 for every test function g; the optimal c
is the supremum of that ratio. Four estimators:

1. ``paper_nc_over_gcol`` (lower bound): the smallest c for which Prop. 4.1, NC <= c * GCol, holds
   at every logged checkpoint - the paper's own procedure (c ~ 1000 on CIFAR-10).
2. ``network_test_functions`` (lower bound): max over trained embeddings and checkpoints (with
   exact GC) of Var_f(Q_i) / GC(f; Q_i), the inequality summed over the embedding's coordinates.
   The best single coordinate's Var(f_a) / E||grad f_a||^2 was tried too and dropped: on the
   25-30 evaluation examples per class it came out up to 4.8x the true constant (a feature
   active on one or two examples has a sample ratio far above its population ratio).
3. ``linear_test_functions`` (lower bound): lambda_max of the class covariance (g(x) = w^T x);
   exact for Gaussians.
4. ``ritz_polynomial`` (consistent estimate): the variational problem sup Var(g)/E||grad g||^2 over
   all polynomials of degree <= 3 in the (top-4 principal) input coordinates, solved as a
   generalised eigenproblem with repeated 2-fold cross-fitting (direction fitted on one half,
   Rayleigh quotient evaluated on the other) to remove the upward selection bias of a sample
   supremum. This is the variational estimator of Pillaud-Vivien et al. (2020) with a polynomial
   instead of an RKHS basis; a diffusion-map (graph-Laplacian) spectral-gap estimator was measured
   20-40% high at these sample sizes, see BENCHMARKS.md.

Rows are per class, ``max`` (the common constant of Prop. 4.1 = max over classes) and ``mixture``
(the pooled, balanced input distribution).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg

from gcnc.data.prepared import load_prepared

RITZ_DEGREE = 3
RITZ_DIMS = 4
RITZ_REPEATS = 5


def linear_lower_bound(x: np.ndarray) -> float:
    """lambda_max of the sample covariance: sup over linear test functions."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    xc = x - x.mean(0)
    n, d = xc.shape
    # the smaller of the covariance (d x d) and the Gram matrix (n x n): same non-zero spectrum
    form = xc.T @ xc / n if d <= n else xc @ xc.T / n
    top = len(form) - 1
    return float(scipy.linalg.eigh(form, eigvals_only=True, subset_by_index=[top, top])[0])


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
    """Cross-fitted Rayleigh-Ritz estimate of the Poincare constant from samples ``x`` (n x d)."""
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


def _subsample(x: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    if len(x) <= n:
        return x
    return x[np.random.default_rng(seed).choice(len(x), n, replace=False)]


def data_estimates(name: str, path: str | Path, max_samples: int) -> list[dict[str, Any]]:
    """Estimators 3 and 4 on the training inputs of one prepared dataset (per class, mixture)."""
    data = load_prepared(path)
    x_all, y_all = data.train.x.numpy(), data.train.y.numpy()
    truth = data.meta.get("poincare_constants", {})
    rows = []
    for c in range(data.meta["n_classes"]):
        xc = _subsample(x_all[y_all == c], max_samples, c)
        true = truth.get(str(c))
        rows += [
            {
                "dataset": name,
                "class": str(c),
                "method": "linear_test_functions",
                "kind": "lower_bound",
                "estimate": linear_lower_bound(xc),
                "true_value": true,
            },
            {
                "dataset": name,
                "class": str(c),
                "method": "ritz_polynomial",
                "kind": "estimate",
                "estimate": ritz_estimate(xc),
                "true_value": true,
            },
        ]
    mix = _subsample(x_all, max_samples)
    rows += [
        {
            "dataset": name,
            "class": "mixture",
            "method": "linear_test_functions",
            "kind": "lower_bound",
            "estimate": linear_lower_bound(mix),
            "true_value": None,
        },
        {
            "dataset": name,
            "class": "mixture",
            "method": "ritz_polynomial",
            "kind": "estimate",
            "estimate": ritz_estimate(mix),
            "true_value": None,
        },
    ]
    return rows


def network_estimates(
    metrics: pd.DataFrame, class_metrics: pd.DataFrame, runs: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Estimators 1 and 2 from the logged checkpoints (train split): estimator 1 from every run,
    estimator 2 (per class) from ``task == full`` runs, whose class labels are the dataset's.

    Only checkpoints whose GC was computed exactly are used when the preset logged any (a ratio
    with a noisy GC estimate in its denominator is no longer a lower bound); a preset that logs
    Hutchinson estimates only (``paper``) uses all of them. Runs whose status in ``runs``
    (runs.csv) is not ``ok`` (diverged) are left out, and so are checkpoints whose
    ``metric_status`` flags degenerate geometry (non-finite NC or geometric collapse).
    """
    rows = []
    full = metrics[metrics.split == "train"]
    if runs is not None:
        full = full[full.run_id.isin(set(runs.loc[runs.status == "ok", "run_id"]))]
    exact = full.gc_estimator.eq("exact")
    full = full[exact] if exact.any() else full
    if "metric_status" in full:
        full = full[full.metric_status.fillna("ok").eq("ok")]
    for name, grp in full.groupby("dataset"):
        ratio = (grp.nc / grp.geometric_collapse).replace([np.inf, -np.inf], np.nan)
        rows.append(
            {
                "dataset": name,
                "class": "max",
                "method": "paper_nc_over_gcol",
                "kind": "lower_bound",
                "estimate": float(ratio.max()),
                "true_value": None,
            }
        )
    cm = class_metrics[class_metrics.split == "train"].merge(
        full.loc[full.task == "full", ["run_id", "step", "dataset"]].drop_duplicates(),
        on=["run_id", "step"],
    )
    cm = cm[cm.gc > 0]
    for (name, cls), grp in cm.groupby(["dataset", "class"]):
        rows.append(
            {
                "dataset": name,
                "class": str(cls),
                "method": "network_test_functions",
                "kind": "lower_bound",
                "estimate": float((grp.variance / grp.gc).max()),
                "true_value": None,
            }
        )
    return rows


def poincare_table(
    metrics: pd.DataFrame,
    class_metrics: pd.DataFrame,
    datasets: dict[str, str | Path],
    cfg: dict[str, Any],
    runs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """results/<preset>/poincare.csv: dataset, class, method, kind, estimate, true_value.

    ``datasets`` maps dataset names to their prepared folders; ``runs`` (runs.csv) gives each
    run's status: diverged runs are left out of the network estimates.
    """
    rows = network_estimates(metrics, class_metrics, runs)
    for name, path in datasets.items():
        rows += data_estimates(name, path, cfg["max_samples"])
    table = pd.DataFrame(rows)
    table["true_value"] = table["true_value"].astype(float)
    known_c = table.dropna(subset=["true_value"]).groupby(["dataset", "class"]).true_value.first()
    keys = pd.MultiIndex.from_frame(table[["dataset", "class"]])
    table["true_value"] = table["true_value"].fillna(pd.Series(known_c.reindex(keys).values))
    per_class_truth = table[table["class"].str.isdigit()]
    known = per_class_truth.groupby("dataset").true_value.apply(lambda v: v.notna().all())
    true_max = per_class_truth.groupby("dataset").true_value.max()[known]  # all classes known
    per_class = table[table["class"].str.isdigit()]
    maxima = per_class.groupby(["dataset", "method", "kind"], as_index=False).estimate.max()
    maxima["class"] = "max"
    maxima = maxima[~maxima.method.eq("paper_nc_over_gcol")]
    table = pd.concat([table, maxima], ignore_index=True)
    is_max = table["class"].eq("max")
    table.loc[is_max, "true_value"] = table.loc[is_max, "dataset"].map(true_max)
    return table.sort_values(["dataset", "method", "class"]).reset_index(drop=True)
