"""The study's logging step: every metric of a run on fixed evaluation subsets of its train and
test splits (:func:`gcnc.metrics.snapshot.snapshot`), the learning-path slope, the rate of the
last SGD step, and on request NC and accuracy with BatchNorm statistics recomputed on the
training set (:mod:`gcnc.batchnorm`, in a copy: the model itself is never changed).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from gcnc.batchnorm import recalibrated
from gcnc.metrics.collapse import class_stats, neural_collapse
from gcnc.metrics.slope import path_slope
from gcnc.metrics.snapshot import embed_and_logits, snapshot
from gcnc.study.data.prepared import Split
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.schedule import learning_rate

EVAL_SEED = 12345  # the evaluation subsets are the same for every run of a dataset
SLOPE_EXAMPLES = 256  # the path slope is measured on the first examples of the train subset


def seeded_generator(*key: int) -> torch.Generator:
    """A CPU generator seeded by the integers ``key`` (e.g. seed, step): the same key, the same
    stream, in any process and after any resume."""
    seed = 0
    for k in key:
        seed = (seed * 1_000_003 + int(k)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


def gc_estimator(metric_cfg: dict[str, Any], *, endpoint: bool) -> str:
    """The GC estimator of a logging step: ``endpoint_gc_estimator`` (if set) at the last step,
    the values the final-point analyses read; ``gc_estimator`` at every other step (the first
    included: nothing reads initial GC on its own)."""
    if endpoint:
        return metric_cfg.get("endpoint_gc_estimator", metric_cfg["gc_estimator"])
    return metric_cfg["gc_estimator"]


def eval_subset(split: Split, n: int, balanced: bool = True) -> Split:
    """A fixed evaluation subset of about n examples (same for every run).

    Balanced: each class contributes the first max(1, n // k) of its examples in one fixed
    permutation of the split (all of them if it has fewer), so that NC and the per-class GC
    weigh the classes equally, as the balanced distribution of Prop. 4.1 (choose n >= 2k so
    that every class has a variance). Otherwise the first n examples of that permutation.
    """
    perm = torch.randperm(split.x.shape[0], generator=seeded_generator(EVAL_SEED))
    if not balanced:
        return Split(split.x[perm[:n]], split.y[perm[:n]])
    labels = split.y[perm]
    classes = torch.unique(labels)
    per_class = max(1, n // len(classes))
    keep = torch.cat([perm[labels == c][:per_class] for c in classes])
    idx = keep[torch.argsort(torch.argsort(perm)[keep])]  # in permutation order, classes mixed
    return Split(split.x[idx], split.y[idx])


def recalibrated_readings(
    model: nn.Module, x_train: torch.Tensor, evals: dict[str, Split], n_classes: int
) -> dict[str, dict[str, float]]:
    """Per split: NC and accuracy of a copy of ``model`` whose BatchNorm statistics are
    recomputed on ``x_train``."""
    twin = recalibrated(model, x_train)
    out = {}
    for split, ev in evals.items():
        feats, logits = embed_and_logits(twin, ev.x)
        out[split] = {
            "nc_bn_recalibrated": neural_collapse(class_stats(feats, ev.y, n_classes)),
            "accuracy_bn_recalibrated": float((logits.argmax(1) == ev.y).double().mean()),
        }
    return out


def measure_step(
    model: nn.Module,
    spec: RunSpec,
    step: int,
    evals: dict[str, Split],
    n_classes: int,
    metric_cfg: dict[str, Any],
    x_train: torch.Tensor,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The metrics rows (one per split) and per-class rows of one logging step."""
    rows, class_rows, means = [], [], None
    estimator = gc_estimator(metric_cfg, endpoint=step == spec.steps)
    extra = {}
    if metric_cfg.get("bn_recalibration"):
        extra = recalibrated_readings(model, x_train, evals, n_classes)
    for split, ev in evals.items():
        started = time.perf_counter()
        row, crows, split_means = snapshot(
            model,
            ev.x,
            ev.y,
            n_classes,
            estimator=estimator,
            n_probes=metric_cfg["gc_probes"],
            generator=seeded_generator(spec.seed, step, 1),
            ncm_means=means,
        )
        means = split_means if split == "train" else means
        row["slope"] = (
            path_slope(model, ev.x[:SLOPE_EXAMPLES], ev.y[:SLOPE_EXAMPLES])
            if split == "train"
            else float("nan")
        )
        row["log_seconds"] = time.perf_counter() - started  # what this measurement cost
        # the rate of the last SGD step taken (the first step's at step 0)
        row["step_lr"] = learning_rate(spec.lr, max(step, 1), spec.steps, spec.lr_schedule)
        rows.append({"step": step, "split": split, **row, **extra.get(split, {})})
        class_rows.extend({"step": step, "split": split, **c} for c in crows)
    return rows, class_rows
