"""Class statistics accumulated batch by batch, for data sets that do not fit in one tensor.

Per class c (float64): the count n_c, the mean mu_c and M2_c = sum_{x in c} ||f(x) - mu_c||^2,
merged batch by batch with the pairwise update of Chan, Golub & LeVeque (1979): a batch with
n_b rows of the class, mean m_b and M2_b merged into (n, mu, M2) gives, with delta = m_b - mu
and n' = n + n_b,

    mu' = mu + delta n_b / n',    M2' = M2 + M2_b + ||delta||^2 n n_b / n'.

These give the CDNV variances Var_c = M2_c / n_c and the means (:class:`ClassStats`: NC,
geometric collapse Eq. 7, NC2, NC3). NC1 and the ranks need second-order statistics, kept in the
cheapest of three forms:

1. the features themselves (in their own dtype) while N p <= ``keep_features`` values: NC1, the
   numerical and the stable rank are then those of :mod:`gcnc.metrics.collapse` on all features
   at once, in the small space (:mod:`gcnc.metrics.spectra`: SVD of the k x p centred means,
   Gram matrices of min(N, p) rows), and NCM accuracy and NC4 can use the final class means;
2. beyond that, while p^2 <= SCATTER_MAX_ELEMENTS, the within-class scatter
   S_W = sum_c sum_{x in c} (f - mu_c)(f - mu_c)^T (p x p), built from the kept features and then
   merged with the same update on outer products, S_W' = S_W + S_W,b + sum_c (n_c n_b,c / n'_c)
   delta_c delta_c^T (nothing subtracted from an uncentred sum of squares, so features far from
   the origin lose no precision). NC1 reads S_W along the k directions of the centred means; the
   numerical rank comes from the total scatter S_T = S_W + sum_c n_c (mu_c - mu)(mu_c - mu)^T;
   the stable rank from each class's uncentred Gram H_c^T H_c while k p^2 <= GRAM_MAX_ELEMENTS;
3. beyond both, none: NC1 and the ranks are None (:func:`gcnc.measure` then computes NC1 in a
   second pass over the data, projecting the features on the k directions).

Every tensor lives on the device of the first features added.
"""

from __future__ import annotations

from typing import Any

import torch

from gcnc.metrics.collapse import ClassStats, check_class_counts, numerical_rank, stable_rank
from gcnc.metrics.inputs import check_features, check_labels
from gcnc.metrics.spectra import (
    BetweenClassBasis,
    between_class_basis,
    nc1_from_projections,
    rank_from_sq_singular_values,
)

KEEP_FEATURES_MAX = 1 << 25  # feature values kept as given (128 MiB of float32)
SCATTER_MAX_ELEMENTS = 1 << 24  # float64 values of S_W (128 MiB, p <= 4096) once features are not
GRAM_MAX_ELEMENTS = 1 << 27  # float64 values of the per-class Grams (1 GiB) in the scatter form


class ClassAccumulator:
    """Per-class counts, means and M2, and the second-order statistics of the module docstring,
    merged batch by batch; classes are 0..k-1, k = ``n_classes`` or the largest label seen + 1.
    ``keep_features``: feature values kept (None: KEEP_FEATURES_MAX). ``notes`` says which
    statistics were given up, and why."""

    def __init__(self, n_classes: int | None = None, keep_features: int | None = None) -> None:
        self.n_classes = n_classes
        self.keep_features = KEEP_FEATURES_MAX if keep_features is None else keep_features
        self.counts = self.means = self.m2 = None
        self.kept: list[tuple[torch.Tensor, torch.Tensor]] | None = []
        self.scatter: torch.Tensor | None = None
        self.grams: torch.Tensor | None = None
        self.notes: list[str] = []

    @property
    def k(self) -> int:
        return 0 if self.counts is None else int(self.counts.shape[0])

    @property
    def n(self) -> int:
        return 0 if self.counts is None else int(self.counts.sum())

    def _grow(self, k: int, f: torch.Tensor) -> None:
        """Room for classes 0..k-1 (zeros for new ones) on the device of ``f``."""
        p = f.shape[1]
        if self.counts is None:
            self.counts, self.m2, self.means = f.new_zeros(0), f.new_zeros(0), f.new_zeros(0, p)
        new = k - self.k
        if new > 0:
            self.counts = torch.cat([self.counts, f.new_zeros(new)])
            self.m2 = torch.cat([self.m2, f.new_zeros(new)])
            self.means = torch.cat([self.means, f.new_zeros(new, p)])
            if self.grams is not None:
                fits = self._grams_fit(p)
                self.grams = torch.cat([self.grams, f.new_zeros(new, p, p)]) if fits else None

    def add(self, features: Any, labels: Any, name: str = "features") -> torch.Tensor:
        """Merge a batch: ``features`` (n, p) and their ``labels`` (n,); errors name ``name``.
        Returns the labels as an int64 tensor on the device of the features."""
        given = check_features(features, name).detach()
        f = given.double()
        if self.means is not None and f.shape[1] != self.means.shape[1]:
            raise ValueError(
                f"{name}: {f.shape[1]} features, earlier batches had {self.means.shape[1]}"
            )
        y = check_labels(labels, f.shape[0], self.n_classes, rows_of=name).to(f.device)
        self._grow(self.n_classes or max(self.k, int(y.max()) + 1), f)
        k, p = self.k, f.shape[1]
        n_b = torch.bincount(y, minlength=k).double()
        m_b = f.new_zeros(k, p).index_add_(0, y, f) / n_b.clamp(min=1)[:, None]
        centred = f - m_b[y]
        n_new = self.counts + n_b
        weight = self.counts * n_b / n_new.clamp(min=1)  # n n_b / n' (0 for absent classes)
        delta = m_b - self.means
        self.means = self.means + delta * (n_b / n_new.clamp(min=1))[:, None]
        m2_b = f.new_zeros(k).index_add_(0, y, centred.pow(2).sum(1))
        self.m2 = self.m2 + m2_b + weight * delta.pow(2).sum(1)
        self.counts = n_new
        if self.kept is not None:
            self.kept.append((given, y))
            if self.n * p > self.keep_features:
                self._to_scatter()
        elif self.scatter is not None:
            self.scatter += centred.T @ centred + (delta * weight[:, None]).T @ delta
            self._add_grams(f, y)
        return y

    def _to_scatter(self) -> None:
        """Replace the kept features by S_W (and the Grams) when p^2 fits, else by nothing."""
        f, y = self.features()
        self.kept, p = None, f.shape[1]
        if p * p > SCATTER_MAX_ELEMENTS:
            self.notes.append(
                f"NC1 and ranks not accumulated: N p > {self.keep_features:,} feature values "
                f"and p^2 = {p * p:,} > {SCATTER_MAX_ELEMENTS:,}"
            )
            return
        centred = f.double() - self.means[y]
        self.scatter = centred.T @ centred
        if self._grams_fit(p):
            self.grams = self.scatter.new_zeros(self.k, p, p)
            self._add_grams(f.double(), y)

    def _grams_fit(self, p: int) -> bool:
        """Whether k Grams of p x p fit GRAM_MAX_ELEMENTS; a note when they do not."""
        if self.k * p * p <= GRAM_MAX_ELEMENTS:
            return True
        self.notes.append(
            f"stable rank skipped: k p^2 = {self.k * p * p:,} > {GRAM_MAX_ELEMENTS:,}"
        )
        return False

    def _add_grams(self, f: torch.Tensor, y: torch.Tensor) -> None:
        if self.grams is not None:
            for c in torch.unique(y).cpu().tolist():
                rows = f[y == c]
                self.grams[c] += rows.T @ rows

    def features(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kept features (as given) and labels of every batch; ValueError when not kept."""
        if not self.kept:
            raise ValueError("features: not kept (none added, or more than keep_features)")
        return torch.cat([f for f, _ in self.kept]), torch.cat([y for _, y in self.kept])

    def stats(self) -> ClassStats:
        """Counts, means and variances (trace of the class covariance); raises ValueError for no
        data, fewer than two classes or a class without examples."""
        if self.counts is None:
            raise ValueError("data: no examples")
        check_class_counts(self.counts)
        return ClassStats(counts=self.counts, means=self.means, variances=self.m2 / self.counts)

    def nc1_basis(self, rtol: float | None = None) -> BetweenClassBasis:
        """The directions of Sigma_B along which NC1 reads Sigma_W (:mod:`gcnc.metrics.spectra`)."""
        stats = self.stats()
        return between_class_basis(stats.means - stats.global_mean, rtol)

    def nc1(self, rtol: float | None = None) -> float | None:
        """NC1 = tr(Sigma_W Sigma_B^+) / k (:func:`gcnc.metrics.nc1`), None when neither the
        features nor S_W were kept."""
        basis = self.nc1_basis(rtol)
        if self.kept:
            f, y = self.features()
            v = basis.directions.to(f.device)
            sq = ((f.double() - self.means[y]) @ v).pow(2).sum(0)
        elif self.scatter is not None:
            sq = ((self.scatter @ basis.directions) * basis.directions).sum(0)
        else:
            return None
        return nc1_from_projections(sq, basis, self.n)

    def numerical_rank(self, rtol: float = 1e-3) -> int | None:
        """Singular values of the centred feature matrix above ``rtol`` x the largest
        (:func:`gcnc.metrics.numerical_rank`); None when not accumulated."""
        stats = self.stats()
        if self.kept:
            return numerical_rank(self.features()[0], rtol)
        if self.scatter is None:
            return None
        mean = (stats.counts[:, None] * stats.means).sum(0) / stats.counts.sum()
        between = stats.means - mean
        total = self.scatter + (between * stats.counts[:, None]).T @ between
        return rank_from_sq_singular_values(torch.linalg.eigvalsh(total).clamp(min=0), rtol)

    def stable_rank(self) -> float | None:
        """Li et al.'s numerical rank, the mean over classes of ||H_c||_F^2 / ||H_c||_2^2
        (:func:`gcnc.metrics.stable_rank`); None when not accumulated."""
        self.stats()
        if self.kept:
            return stable_rank(*self.features())
        if self.grams is None:
            return None
        fro = self.grams.diagonal(dim1=1, dim2=2).sum(1)
        top = torch.linalg.eigvalsh(self.grams)[:, -1]
        ranks = torch.where(top > 0, fro / top.clamp(min=torch.finfo(top.dtype).tiny), 0.0)
        return float(ranks.mean())
