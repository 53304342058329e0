"""NC1 and ranks in the small space: no p x p matrix when there are few classes or examples.

NC1 (Papyan et al. 2020; Li et al. Eq. 4) is tr(Sigma_W Sigma_B^+) / k with Sigma_B = M^T M / k,
M the k x p class means centred on their mean, of rank <= k-1. With the thin SVD
M = U S V^T (V: p x k, from a k x p problem),

    Sigma_B^+ = k V S^-2 V^T,    NC1 = sum_i v_i^T Sigma_W v_i / s_i^2,

so NC1 needs Sigma_W only along the k directions v_i: v^T Sigma_W v = ||F_c v||^2 / N, F_c the
features centred on their class means. Directions with s_i^2 <= rtol * max_j s_j^2 are dropped,
as ``torch.linalg.pinv(Sigma_B, hermitian=True, rtol=rtol)`` drops eigenvalues (default rtol:
float64 eps x p, torch's), so the value equals the p x p pseudo-inverse's to float64 precision.

Singular values of an n x p matrix come from the eigenvalues of its min(n, p) square Gram matrix
(A A^T when n < p): the N x N problem for a few wide embeddings, 30-70x faster than an SVD of the
whole matrix at N = 1000-8000 rows, p = 4096-16384 on the CPU (BENCHMARKS.md). The Gram squares
the condition number, so singular values below about 1e-8 x the largest lose their relative
precision; the ranks here compare them with 1e-3 x the largest (numerical rank) or use the largest
only (stable rank).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BetweenClassBasis:
    """The directions v_i of the centred class means (p x r, orthonormal columns) whose squared
    singular values s_i^2 pass the cut-off, and 1 / s_i^2 (r,)."""

    directions: torch.Tensor
    inv_sq: torch.Tensor


def between_class_basis(
    centred_means: torch.Tensor, rtol: float | None = None
) -> BetweenClassBasis:
    """SVD of the k x p centred class means M (float64): the directions of Sigma_B = M^T M / k
    with s_i^2 > rtol * max s^2 (``rtol`` None: float64 eps x p, as ``torch.linalg.pinv``)."""
    m = centred_means.double()
    _, s, vh = torch.linalg.svd(m, full_matrices=False)
    sq = s.pow(2)
    cut = (torch.finfo(torch.float64).eps * m.shape[1] if rtol is None else rtol) * sq.max()
    keep = sq > cut
    return BetweenClassBasis(directions=vh[keep].T, inv_sq=1.0 / sq[keep])


def nc1_from_projections(sq_sums: torch.Tensor, basis: BetweenClassBasis, n: int) -> float:
    """NC1 = sum_i ||F_c v_i||^2 / (N s_i^2), from ``sq_sums`` = ||F_c v_i||^2 over the N
    examples (one value per direction of ``basis``)."""
    return float((sq_sums.double() * basis.inv_sq).sum() / n)


def sq_singular_values(a: torch.Tensor) -> torch.Tensor:
    """Squared singular values of ``a`` (n x p, float64), largest first: the eigenvalues of the
    smaller Gram matrix (A A^T when n < p, else A^T A), clamped at 0."""
    a = a.double()
    gram = a @ a.T if a.shape[0] < a.shape[1] else a.T @ a
    return torch.linalg.eigvalsh(gram).clamp(min=0).flip(0)


def rank_from_sq_singular_values(sq: torch.Tensor, rtol: float) -> int:
    """Singular values above ``rtol`` x the largest (0 when all are 0)."""
    sv = sq.sqrt()
    return int((sv > rtol * sv.max()).sum()) if sv.numel() and bool(sv.max() > 0) else 0
