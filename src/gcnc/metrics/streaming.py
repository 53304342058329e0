"""Class statistics accumulated batch by batch, for data sets that do not fit in one tensor.

Per class c (float64): the count n_c, the mean mu_c and M2_c = sum_{x in c} ||f(x) - mu_c||^2,
merged batch by batch with the pairwise update of Chan, Golub & LeVeque (1979): a batch with
n_b rows of the class, mean m_b and M2_b merged into (n, mu, M2) gives, with delta = m_b - mu
and n' = n + n_b,

    mu' = mu + delta n_b / n',    M2' = M2 + M2_b + ||delta||^2 n n_b / n'.

The same update on outer products gives the within-class scatter over all examples,
S_W = sum_c sum_{x in c} (f - mu_c)(f - mu_c)^T, one p x p matrix:
S_W' = S_W + S_W,b + sum_c (n_c n_b,c / n'_c) delta_c delta_c^T. Nothing is subtracted from an
uncentred sum of squares, so features far from the origin relative to their spread lose no
precision (the cancellation :mod:`gcnc.metrics.collapse` avoids for distances).

These give the CDNV variances Var_c = M2_c / n_c and means (:class:`ClassStats`: NC, geometric
collapse Eq. 7, NC2, NC3), NC1 with Sigma_W = S_W / N, and the numerical rank from the total
scatter S_T = S_W + sum_c n_c (mu_c - mu)(mu_c - mu)^T (mu the mean of all examples), whose
eigenvalues are the squared singular values of the centred feature matrix. Li et al.'s stable rank
needs each class's uncentred Gram H_c^T H_c (p x p per class), accumulated while k p^2 stays
within GRAM_MAX_ELEMENTS. Every tensor lives on the device of the first features added.
"""

from __future__ import annotations

from typing import Any

import torch

from gcnc.metrics.collapse import ClassStats, check_class_counts, nc1_from_within_covariance
from gcnc.metrics.inputs import check_features, check_labels

GRAM_MAX_ELEMENTS = 1 << 27  # float64 values of the per-class Grams (1 GiB): k p^2 above it skips


class ClassAccumulator:
    """Per-class counts, means, M2 and the within-class scatter, merged batch by batch; classes
    are 0..k-1, k = ``n_classes`` or the largest label seen + 1."""

    def __init__(self, n_classes: int | None = None) -> None:
        self.n_classes = n_classes
        self.counts = self.means = self.m2 = self.scatter = None
        self.grams: torch.Tensor | None = None
        self.grams_skipped = False  # k p^2 exceeded GRAM_MAX_ELEMENTS: no stable rank

    @property
    def k(self) -> int:
        return 0 if self.counts is None else int(self.counts.shape[0])

    def _grow(self, k: int, f: torch.Tensor) -> None:
        """Room for classes 0..k-1 (zeros for new ones) on the device of ``f``."""
        p = f.shape[1]
        if self.counts is None:
            self.counts, self.m2 = f.new_zeros(0), f.new_zeros(0)
            self.means, self.scatter = f.new_zeros(0, p), f.new_zeros(p, p)
            self.grams = f.new_zeros(0, p, p)
        new = k - self.k
        if new <= 0:
            return
        self.counts = torch.cat([self.counts, f.new_zeros(new)])
        self.m2 = torch.cat([self.m2, f.new_zeros(new)])
        self.means = torch.cat([self.means, f.new_zeros(new, p)])
        if self.grams is not None and k * p * p > GRAM_MAX_ELEMENTS:
            self.grams, self.grams_skipped = None, True
        if self.grams is not None:
            self.grams = torch.cat([self.grams, f.new_zeros(new, p, p)])

    def add(self, features: Any, labels: Any, name: str = "features") -> None:
        """Merge a batch: ``features`` (n, p) and their ``labels`` (n,); errors name ``name``."""
        f = check_features(features, name).detach().double()
        if self.means is not None and f.shape[1] != self.means.shape[1]:
            raise ValueError(
                f"{name}: {f.shape[1]} features, earlier batches had {self.means.shape[1]}"
            )
        y = check_labels(labels, f.shape[0], self.n_classes, rows_of=name).to(f.device)
        self._grow(self.n_classes or int(y.max()) + 1, f)
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
        self.scatter = self.scatter + centred.T @ centred + (delta * weight[:, None]).T @ delta
        self.counts = n_new
        if self.grams is not None:
            for c in torch.unique(y).cpu().tolist():
                rows = f[y == c]
                self.grams[c] += rows.T @ rows

    def stats(self) -> ClassStats:
        """Counts, means and variances (trace of the class covariance); raises ValueError for no
        data, fewer than two classes or a class without examples."""
        if self.counts is None:
            raise ValueError("data: no examples")
        check_class_counts(self.counts)
        return ClassStats(counts=self.counts, means=self.means, variances=self.m2 / self.counts)

    def nc1(self, rtol: float | None = None) -> float:
        """NC1 = tr(Sigma_W Sigma_B^+) / k with Sigma_W = S_W / N (:func:`gcnc.metrics.nc1`)."""
        stats = self.stats()
        return nc1_from_within_covariance(self.scatter / stats.counts.sum(), stats, rtol)

    def numerical_rank(self, rtol: float = 1e-3) -> int:
        """Singular values of the centred feature matrix above ``rtol`` x the largest, from the
        eigenvalues of the total scatter S_T (:func:`gcnc.metrics.numerical_rank`)."""
        stats = self.stats()
        mean = (stats.counts[:, None] * stats.means).sum(0) / stats.counts.sum()
        between = stats.means - mean
        total = self.scatter + (between * stats.counts[:, None]).T @ between
        sv = torch.linalg.eigvalsh(total).clamp(min=0).sqrt()
        return int((sv > rtol * sv.max()).sum()) if bool(sv.max() > 0) else 0

    def stable_rank(self) -> float | None:
        """Li et al.'s numerical rank, the mean over classes of ||H_c||_F^2 / ||H_c||_2^2 from the
        uncentred Grams (:func:`gcnc.metrics.stable_rank`); None when the Grams were skipped."""
        if self.grams is None:
            return None
        self.stats()
        fro = self.grams.diagonal(dim1=1, dim2=2).sum(1)
        top = torch.linalg.eigvalsh(self.grams)[:, -1]
        ranks = torch.where(top > 0, fro / top.clamp(min=torch.finfo(top.dtype).tiny), 0.0)
        return float(ranks.mean())
