"""One measurement of a model on one split: every metric column of the per-run tables.

The study's logging step, for this project's models (``model.embed``, ``model.head``) on a split
held in one tensor; to measure any other network, or data read batch by batch, use
:func:`gcnc.measure`.

Read-only and device-clean: the model is measured in eval mode (its modes restored afterwards, no
BatchNorm statistics updated), and every tensor follows the device of the model's inputs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gcnc.metrics.collapse import (
    cdnv,
    class_stats,
    geometric_collapse,
    inverse_distance_sum,
    metric_status,
    nc1,
    nc2,
    nc3,
    neural_collapse,
    numerical_rank,
    stable_rank,
)
from gcnc.metrics.gc import eval_mode, gc_terms
from gcnc.metrics.ncm import nc4, ncm_accuracy


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (the CPU for a model without parameters)."""
    return next((p.device for p in model.parameters()), torch.device("cpu"))


@torch.no_grad()
def embed_and_logits(model: nn.Module, x: torch.Tensor, chunk_size: int = 512):
    """Embeddings f(x) and logits g(f(x)) in eval mode, computed in chunks on the model's device
    (``x`` may stay on the CPU: each chunk is moved there), returned on that device."""
    feats, logits = [], []
    device = model_device(model)
    with eval_mode(model):
        for chunk in x.split(chunk_size):
            f = model.embed(chunk.to(device))
            feats.append(f)
            logits.append(model.head(f))
    return torch.cat(feats), torch.cat(logits)


def snapshot(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    *,
    estimator: str = "exact",
    n_probes: int = 16,
    generator: torch.Generator | None = None,
    ncm_means: torch.Tensor | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]], torch.Tensor]:
    """Scalar metrics, per-class rows (n, GC, variance) and the class means of one split.

    ``metric_status`` (:func:`gcnc.metrics.collapse.metric_status`) flags the degenerate cases in
    which NC, geometric collapse or NC2 are kept non-finite (``ok`` otherwise).

    ``ncm_means`` are the class means the nearest-class-mean classifier uses (the training split's
    for a test split, as in Prop. 4.3); by default this split's own means.
    """
    per_ex, feats = gc_terms(model.embed, x, estimator, n_probes=n_probes, generator=generator)
    with eval_mode(model), torch.no_grad():
        logits = model.head(feats)
    stats = class_stats(feats, y, n_classes)
    class_gc = per_ex.new_zeros(n_classes).index_add_(0, y, per_ex) / stats.counts
    gc = float(per_ex.mean())
    means = stats.means if ncm_means is None else ncm_means
    equinorm, equiangle = nc2(stats)
    row = {
        "loss": float(nn.functional.cross_entropy(logits.double(), y)),
        "accuracy": float((logits.argmax(1) == y).double().mean()),
        "ncm_accuracy": ncm_accuracy(feats, y, means),
        "gc": gc,
        "gc_max": float(per_ex.max()),
        "gc_estimator": estimator,
        "nc": neural_collapse(stats),
        "cdnv_max": float(cdnv(stats).nan_to_num(0.0).max()),
        "geometric_collapse": geometric_collapse(gc, stats),
        "inv_dist_sum": inverse_distance_sum(stats),
        "nc1": nc1(feats, y),
        "nc2_equinorm": equinorm,
        "nc2_equiangle": equiangle,
        "nc3": nc3(stats, None, model.head.weight),
        "nc4": nc4(feats, logits, means),
        "rank": numerical_rank(feats),
        "stable_rank": stable_rank(feats, y),  # Li et al.'s numerical rank (App. A.1)
        "metric_status": metric_status(stats),
        "embed_dim": int(feats.shape[1]),
        "n_examples": int(x.shape[0]),
    }
    per_class = torch.stack([stats.counts, class_gc, stats.variances]).cpu().tolist()
    class_rows = [
        {"class": c, "n": int(n), "gc": gc_c, "variance": var}
        for c, (n, gc_c, var) in enumerate(zip(*per_class, strict=True))
    ]
    return row, class_rows, stats.means
