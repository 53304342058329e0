"""Synthetic class-conditional distributions with known Poincare constants (ground truth).

- Gaussian class N(mu, Sigma): optimal Poincare constant = lambda_max(Sigma)
  (docs/paper.md section 4).
- Uniform on a cube of side a in R^d: optimal constant (a / pi)^2 (first Neumann eigenvalue
  (pi / a)^2 of the Laplacian on the box).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _class_means(rng: np.random.Generator, n_classes: int, dim: int, radius: float) -> np.ndarray:
    means = rng.standard_normal((n_classes, dim))
    return radius * means / np.linalg.norm(means, axis=1, keepdims=True)


def _random_covariance(rng: np.random.Generator, dim: int, lo: float, hi: float) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    eig = rng.uniform(lo, hi, size=dim)
    return (q * eig) @ q.T


def make_gaussians(spec: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Balanced Gaussian classes, each with its own random covariance.

    With ``target_mode: mixtures`` extra classes are appended, class ``n_classes + j`` being the
    equal mixture of source Gaussians ``2j`` and ``2j + 1`` (target classes that are unions of
    source classes); their Poincare constant is unknown (recorded as None).
    """
    rng = np.random.default_rng(spec.get("seed", 0))
    k, d = spec["n_classes"], spec["dim"]
    lo, hi = spec["variance_range"]
    means = _class_means(rng, k, d, spec["mean_radius"])
    covs = [_random_covariance(rng, d, lo, hi) for _ in range(k)]
    chols = [np.linalg.cholesky(c) for c in covs]

    def draw(c: int, n: int) -> np.ndarray:
        return means[c] + rng.standard_normal((n, d)) @ chols[c].T

    def draw_class(c: int, n: int) -> np.ndarray:
        if c < k:
            return draw(c, n)
        a, b = 2 * (c - k), 2 * (c - k) + 1
        pick = rng.random(n) < 0.5
        return np.where(pick[:, None], draw(a, n), draw(b, n))

    n_total = k + (k // 2 if spec.get("target_mode") == "mixtures" else 0)
    arrays = _split_arrays(draw_class, n_total, spec["n_train"], spec["n_test"])
    poincare = {str(c): float(np.linalg.eigvalsh(covs[c]).max()) for c in range(k)}
    poincare.update({str(c): None for c in range(k, n_total)})
    return arrays, {"n_classes": n_total, "poincare_constants": poincare}


def make_uniform_boxes(spec: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Balanced classes, class c uniform on a cube of side a_c centred at its mean."""
    rng = np.random.default_rng(spec.get("seed", 0))
    k, d = spec["n_classes"], spec["dim"]
    means = _class_means(rng, k, d, spec["mean_radius"])
    sides = rng.uniform(*spec["side_range"], size=k)

    def draw_class(c: int, n: int) -> np.ndarray:
        return means[c] + sides[c] * (rng.random((n, d)) - 0.5)

    arrays = _split_arrays(draw_class, k, spec["n_train"], spec["n_test"])
    poincare = {str(c): float((sides[c] / np.pi) ** 2) for c in range(k)}
    return arrays, {"n_classes": k, "poincare_constants": poincare, "sides": sides.tolist()}


def _split_arrays(draw_class, n_classes: int, n_train: int, n_test: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = np.concatenate([draw_class(c, n) for c in range(n_classes)]).astype(np.float32)
        out[f"x_{split}"] = x
        out[f"y_{split}"] = np.repeat(np.arange(n_classes), n).astype(np.int64)
    return out
