"""The nearest-class-mean (NCM) classifier and NC4 (Papyan, Han & Donoho 2020): predictions
argmin_c ||f(x) - mu_c||, with squared distances from the differences in float64
(:func:`gcnc.metrics.collapse.pairwise_sq_distances`, no Gram-matrix cancellation)."""

from __future__ import annotations

from typing import Any

import torch

from gcnc.metrics.collapse import pairwise_sq_distances
from gcnc.metrics.inputs import as_tensor, check_features, check_labels


def _check_means(means: Any, p: int) -> torch.Tensor:
    mu = check_features(means, "means")
    if mu.shape[1] != p:
        raise ValueError(f"means: {mu.shape[1]} features per class mean, the features have {p}")
    return mu


def ncm_predict(features: Any, means: Any) -> torch.Tensor:
    """Nearest-class-mean predictions argmin_c ||f(x) - mu_c||, with the squared distances from
    the differences in float64 (:func:`pairwise_sq_distances`)."""
    f = check_features(features)
    return pairwise_sq_distances(f, _check_means(means, f.shape[1]).to(f.device)).argmin(1)


def ncm_accuracy(features: Any, labels: Any, means: Any) -> float:
    """Accuracy of the nearest-class-mean classifier with the given class means."""
    pred = ncm_predict(features, means)
    y = check_labels(labels, pred.shape[0], as_tensor(means, "means").shape[0]).to(pred.device)
    return float((pred == y).double().mean())


def nc4(features: Any, logits: Any, means: Any) -> float:
    """NC4: fraction of examples where the network's argmax and the NCM prediction disagree."""
    pred = ncm_predict(features, means)
    z = check_features(logits, "logits")
    expected = (pred.shape[0], as_tensor(means, "means").shape[0])
    if tuple(z.shape) != expected:
        raise ValueError(f"logits: shape {tuple(z.shape)}, expected (examples, classes) {expected}")
    return float((pred != z.argmax(1).to(pred.device)).double().mean())
