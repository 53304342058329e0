"""Neural-collapse measurements on embeddings (features) with integer class labels 0..k-1.

- CDNV (Galanti et al. 2022, ICLR): V_f(Q_i, Q_j) = (Var_i + Var_j) / (2 ||mu_i - mu_j||^2),
  Var_c = E||f(x) - mu_c||^2 (trace of the class covariance).
- NC(f; Q) = Avg_{i != j} V_f(Q_i, Q_j) over the k(k-1) ordered pairs (paper Section 3).
- Geometric collapse (paper Eq. 7): GCol = GC / (k-1) * sum_{i != j} 1 / ||mu_i - mu_j||^2.
- NC1-NC4 of Papyan, Han & Donoho (2020); numerical rank; nearest-class-mean (NCM) classifier.
- Li et al.'s numerical rank (their App. A.1, after Timor et al. 2022; docs/paper.md section 9):
  (1/K) sum_k ||H_k||_F^2 / ||H_k||_2^2 over the *uncentred* class matrices H_k
  (:func:`stable_rank`).

Class statistics are accumulated class by class in one pass over the features (float64), so no
N x N matrix is formed. Every tensor made here lives on the device of the features, so the metrics
run where the model does (a GPU during pretraining).

Squared distances (between class means, and from features to class means for the NCM classifier)
are computed from the differences a - b in float64 (:func:`pairwise_sq_distances`), never from a
Gram matrix (||a||^2 + ||b||^2 - 2 a.b, what ``torch.cdist`` does above 25 rows), which cancels to
0 when the points are far from the origin relative to their spread.

Inputs are checked (:mod:`gcnc.metrics.inputs`): features 2-D, floating and finite; labels 1-D
integer class indices 0..k-1, one per row; NumPy arrays are converted. Errors name the argument.

Degenerate geometry is kept, not hidden: when two class means coincide, NC, the CDNV and
geometric collapse are ``inf`` (``nan`` for 0/0); when a centred class mean is zero its angle is
undefined and NC2 equiangularity is ``nan`` (equinorm stays defined unless every centred mean is
zero, NC3 is ``nan`` then). :func:`metric_status` names such cases (``coincident_means``,
``zero_centred_mean``, ``non_finite_features``; ``ok`` otherwise) and is logged with every
snapshot, so no table carries a silent inf or nan. NaN or infinite features themselves are
refused with an error naming them; ``non_finite_features`` flags statistics that overflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from gcnc.metrics.inputs import (
    as_tensor,
    check_features,
    check_finite,
    check_finite_number,
    check_labels,
    check_positive_int,
)
from gcnc.metrics.spectra import (
    between_class_basis,
    nc1_from_projections,
    rank_from_sq_singular_values,
    sq_singular_values,
)

DISTANCE_CHUNK = 1 << 24  # elements of the (rows x m x p) difference block formed at once


def pairwise_sq_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """||a_i - b_j||^2 for the rows of ``a`` (..., n, p) and ``b`` (..., m, p), shape (..., n, m),
    summed from the differences in float64 (no Gram-matrix cancellation), in blocks of rows of
    at most DISTANCE_CHUNK elements. Leading (batch) dimensions broadcast."""
    a, b = a.detach().double(), b.detach().double()
    n, m, p = a.shape[-2], b.shape[-2], a.shape[-1]
    batch = math.prod(torch.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    rows = max(1, DISTANCE_CHUNK // max(1, batch * m * p))
    blocks = [
        (a[..., i : i + rows, None, :] - b[..., None, :, :]).pow(2).sum(-1)
        for i in range(0, n, rows)
    ]
    return torch.cat(blocks, dim=-2)


@dataclass
class ClassStats:
    """Per-class counts, means (k x p) and variances (trace of covariance), in float64."""

    counts: torch.Tensor
    means: torch.Tensor
    variances: torch.Tensor

    @property
    def k(self) -> int:
        return int(self.counts.shape[0])

    @property
    def global_mean(self) -> torch.Tensor:
        """Mean of the class means (the balanced global mean)."""
        return self.means.mean(0)

    def sq_distances(self) -> torch.Tensor:
        """k x k matrix of ||mu_i - mu_j||^2 (:func:`pairwise_sq_distances`); the diagonal is
        exactly 0."""
        return pairwise_sq_distances(self.means, self.means)


def check_class_counts(counts: torch.Tensor, name: str = "labels") -> None:
    """Raise ValueError naming ``name`` for fewer than two classes or a class with no example."""
    if counts.shape[0] < 2:
        raise ValueError(f"{name}: neural-collapse metrics need at least two classes")
    if bool((counts == 0).any()):
        empty = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(
            f"{name}: classes {empty} have no examples; every class 0..k-1 needs at least one"
        )


def class_stats(features: Any, labels: Any, n_classes: int | None = None) -> ClassStats:
    """Per-class statistics of ``features`` (n, p) with ``labels`` 0..k-1 (k = ``n_classes``, or
    the largest label + 1); raises ValueError for fewer than two classes or an empty class."""
    f = check_features(features).detach().double()
    if n_classes is not None:
        n_classes = check_positive_int(n_classes, "n_classes")
    y = check_labels(labels, f.shape[0], n_classes).to(f.device)
    k = n_classes if n_classes is not None else int(y.max()) + 1
    counts = torch.bincount(y, minlength=k).double()
    check_class_counts(counts)
    sums = f.new_zeros(k, f.shape[1]).index_add_(0, y, f)
    means = sums / counts[:, None]
    sq = f.new_zeros(k).index_add_(0, y, (f - means[y]).pow(2).sum(1))
    return ClassStats(counts=counts, means=means, variances=sq / counts)


def _off_diagonal(k: int, like: torch.Tensor) -> torch.Tensor:
    """Boolean k x k mask of the pairs i != j, on the device of ``like``."""
    return ~torch.eye(k, dtype=torch.bool, device=like.device)


def _stats(features: Any, labels: Any) -> ClassStats:
    if isinstance(features, ClassStats):
        return features
    if labels is None:
        raise ValueError("labels: required with a features tensor (only ClassStats carry them)")
    return class_stats(features, labels)


def cdnv(features: torch.Tensor | ClassStats, labels: torch.Tensor | None = None) -> torch.Tensor:
    """k x k CDNV matrix V_f(Q_i, Q_j); the diagonal (undefined) is NaN."""
    s = _stats(features, labels)
    v = (s.variances[:, None] + s.variances[None, :]) / (2 * s.sq_distances())
    return v.fill_diagonal_(float("nan"))


def neural_collapse(
    features: torch.Tensor | ClassStats, labels: torch.Tensor | None = None
) -> float:
    """NC(f; Q): the average CDNV over ordered pairs i != j (lower = more collapse)."""
    v = cdnv(features, labels)
    return float(v[_off_diagonal(v.shape[0], v)].mean())


def inverse_distance_sum(
    features: torch.Tensor | ClassStats, labels: torch.Tensor | None = None
) -> float:
    """sum_{i != j} 1 / ||mu_i - mu_j||^2 over ordered pairs (class-distance factor, Eq. 7)."""
    s = _stats(features, labels)
    d2 = s.sq_distances()
    return float((1.0 / d2[_off_diagonal(s.k, d2)]).sum())


def geometric_collapse(
    gc: float, features: torch.Tensor | ClassStats, labels: torch.Tensor | None = None
) -> float:
    """Geometric collapse, paper Eq. (7): GC / (k-1) * sum_{i != j} 1 / ||mu_i - mu_j||^2."""
    gc = check_finite_number(gc, "gc", minimum=0.0)
    s = _stats(features, labels)
    return gc / (s.k - 1) * inverse_distance_sum(s)


def _centred_means(s: ClassStats) -> torch.Tensor:
    return s.means - s.global_mean


def nc1(features: Any, labels: Any, rtol: float | None = None) -> float:
    """NC1 = tr(Sigma_W Sigma_B^+) / k (Papyan et al. 2020; Li et al. Eq. 4), in float64 and in
    the small space of the k x p centred class means (:mod:`gcnc.metrics.spectra`: no p x p
    matrix). ``rtol``: directions of Sigma_B with eigenvalue below ``rtol`` x the largest count
    as zero in the pseudo-inverse (rank Sigma_B <= k-1; Li et al. give no tolerance); None:
    torch.linalg.pinv's default, float64 eps x p."""
    f = check_features(features).detach().double()
    y = check_labels(labels, f.shape[0]).to(f.device)
    s = class_stats(f, y)
    centred = f - s.means[y]
    basis = between_class_basis(_centred_means(s), rtol)
    return nc1_from_projections((centred @ basis.directions).pow(2).sum(0), basis, f.shape[0])


class NC2(NamedTuple):
    """NC2 errors of the centred class means, named as the columns of ``metrics.csv``; both 0
    for a simplex equiangular tight frame. ``equinorm`` and ``equiangularity`` (the names up to
    gcnc 0.2.0) remain as read-only aliases."""

    nc2_equinorm: float  # std / mean of ||mu_c - mu_G||
    nc2_equiangle: float  # Avg_{i != j} |cos_ij + 1 / (k - 1)|

    @property
    def equinorm(self) -> float:
        """Alias of ``nc2_equinorm``."""
        return self.nc2_equinorm

    @property
    def equiangularity(self) -> float:
        """Alias of ``nc2_equiangle``."""
        return self.nc2_equiangle


def nc2(features: Any, labels: Any = None) -> NC2:
    """NC2 errors: ``NC2(nc2_equinorm, nc2_equiangle)`` of the centred class means.

    nc2_equinorm = std/mean of ||mu_c - mu_G||; nc2_equiangle = Avg_{i != j} |cos_ij + 1/(k-1)|.
    Both are 0 for a simplex equiangular tight frame. A zero centred mean has no angle:
    nc2_equiangle is then NaN (and nc2_equinorm NaN when every centred mean is zero), flagged
    ``zero_centred_mean`` by :func:`metric_status`.
    """
    s = _stats(features, labels)
    m = _centred_means(s)
    norms = m.norm(dim=1)
    equinorm = float(norms.std(unbiased=False) / norms.mean())
    if bool((norms == 0).any()):
        return NC2(equinorm, float("nan"))
    unit = m / norms[:, None]
    cos = unit @ unit.T
    return NC2(equinorm, float((cos[_off_diagonal(s.k, cos)] + 1.0 / (s.k - 1)).abs().mean()))


def metric_status(stats: ClassStats) -> str:
    """``ok``, or the degenerate cases that make metrics non-finite, joined by ``+``:
    ``non_finite_features`` (means or variances that overflowed float64, e.g. from features
    near 1e200; NaN/inf features are refused earlier), ``coincident_means`` (two class means equal:
    NC, CDNV and geometric collapse inf), ``zero_centred_mean`` (NC2 equiangularity NaN)."""
    if not (
        bool(torch.isfinite(stats.means).all()) and bool(torch.isfinite(stats.variances).all())
    ):
        return "non_finite_features"
    flags = []
    d2 = stats.sq_distances()
    if bool((d2[_off_diagonal(stats.k, d2)] == 0).any()):
        flags.append("coincident_means")
    if bool((_centred_means(stats).norm(dim=1) == 0).any()):
        flags.append("zero_centred_mean")
    return "+".join(flags) or "ok"


def nc3(features: Any, labels: Any, head_weight: Any) -> float:
    """NC3 self-duality: || W/||W||_F - M/||M||_F ||_F^2, M the centred class means (k x p) and
    W the head's weight (k x p: one row per class, in the order of the class indices)."""
    s = _stats(features, labels)
    m = _centred_means(s)
    w = as_tensor(head_weight, "head_weight").detach().double()
    if tuple(w.shape) != tuple(m.shape):
        raise ValueError(
            f"head_weight: shape {tuple(w.shape)}, expected (classes, features) = {tuple(m.shape)}"
        )
    check_finite(w, "head_weight")
    return float((w / w.norm() - m / m.norm()).pow(2).sum())


def numerical_rank(features: Any, rtol: float = 1e-3) -> int:
    """Number of singular values of the centred feature matrix above rtol * the largest, from
    the smaller of its two Gram matrices (:func:`gcnc.metrics.spectra.sq_singular_values`)."""
    f = check_features(features).detach().double()
    check_finite_number(rtol, "rtol", minimum=0.0)
    return rank_from_sq_singular_values(sq_singular_values(f - f.mean(0)), rtol)


def stable_rank(features: Any, labels: Any) -> float:
    """Li et al.'s numerical rank (App. A.1, after Timor et al. 2022): the average over classes
    of ||H_k||_F^2 / ||H_k||_2^2, H_k the class's feature matrix, *not* mean-centred. Between 1
    (a class on one line through the origin) and min(n_k, d); smaller = more collapsed. Li et al.
    estimate ||H_k||_2 by power iteration; here it is exact (the largest eigenvalue of the
    class's smaller Gram matrix, which power iteration converges to: slowly when the top two are
    close, as in isotropic classes). A class of zero features counts as rank 0."""
    f = check_features(features).detach().double()
    y = check_labels(labels, f.shape[0]).to(f.device)
    ranks = []
    for c in torch.unique(y):
        h = f[y == c]
        top = sq_singular_values(h)[0]
        ranks.append(float(h.pow(2).sum() / top) if bool(top > 0) else 0.0)
    return sum(ranks) / len(ranks) if ranks else float("nan")
