"""The passes of :func:`gcnc.measure` over the data, and GC on the sampled examples (the steps
are described in :mod:`gcnc.measurement`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from gcnc.embedding import Embedding, network_device
from gcnc.metrics.collapse import ncm_predict
from gcnc.metrics.gc import per_example_gc
from gcnc.metrics.inputs import check_inputs, check_labels
from gcnc.metrics.streaming import ClassAccumulator
from gcnc.streams import BatchSource, ClassReservoir, Progress

KEPT_FEATURES_MAX = 1 << 25  # feature values kept for NCM / NC4 (else a second pass)


def embedded(
    batches: BatchSource,
    embedding: Embedding,
    n_classes: int | None,
    device: torch.device,
    dtype: torch.dtype | None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]]:
    """(inputs as given, labels, features, logits or None) per batch, on ``device``."""
    for x, y in batches():
        inputs = check_inputs(x, "data")
        labels = check_labels(y, inputs.shape[0], n_classes, rows_of="data")
        f, logits = embedding.features_and_logits(inputs.to(device=device, dtype=dtype))
        yield x, labels.to(device), f, logits


@dataclass
class FirstPass:
    """What the first pass over the data collects besides the class statistics."""

    n: int = 0
    correct: int = 0  # argmax of the logits equal to the label
    logit_classes: int | None = None  # columns of the logits (None: no logits)
    kept: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] | None = field(
        default_factory=list
    )  # (features, labels, argmax of the logits) per batch, while within KEPT_FEATURES_MAX


def first_pass(
    batches: BatchSource,
    embedding: Embedding,
    acc: ClassAccumulator,
    reservoir: ClassReservoir,
    device: torch.device,
    dtype: torch.dtype | None,
    report: Progress,
) -> FirstPass:
    """Embed every batch: class statistics into ``acc``, inputs offered to ``reservoir``, the
    logits' accuracy, and the features kept while within KEPT_FEATURES_MAX values."""
    seen = FirstPass()
    steps = embedded(batches, embedding, acc.n_classes, device, dtype)
    for i, (x, y, f, logits) in enumerate(steps, start=1):
        acc.add(f, y, name=f"embed ({embedding.description})")
        reservoir.offer(x, y)
        seen.n += y.shape[0]
        argmax = None if logits is None else logits.argmax(1)
        if argmax is not None:
            seen.logit_classes = logits.shape[1]
            seen.correct += int((argmax == y).sum())
        if seen.kept is not None:
            seen.kept.append((f, y, argmax))
            if seen.n * f.shape[1] > KEPT_FEATURES_MAX:
                seen.kept = None
        report.step("embeddings", i, batches.n_batches, "batches")
    return seen


def ncm_counts(
    seen: FirstPass,
    batches: BatchSource,
    embedding: Embedding,
    means: torch.Tensor,
    dtype: torch.dtype | None,
    report: Progress,
) -> tuple[int, int]:
    """(NCM predictions equal to the label, NCM predictions unequal to the logits' argmax) with
    the final class means: on the kept features, or in a second pass over the data."""
    if seen.kept is not None:
        parts = seen.kept
    else:
        report.say("features exceed KEPT_FEATURES_MAX: a second pass for NCM and NC4")
        steps = embedded(batches, embedding, means.shape[0], means.device, dtype)
        parts = ((f, y, None if z is None else z.argmax(1)) for _x, y, f, z in steps)
    ncm_correct = disagree = 0
    for i, (f, y, argmax) in enumerate(parts, start=1):
        pred = ncm_predict(f, means)
        ncm_correct += int((pred == y).sum())
        disagree += 0 if argmax is None else int((pred != argmax).sum())
        if seen.kept is None:
            report.step("NCM (second pass)", i, batches.n_batches, "batches")
    return ncm_correct, disagree


def balanced_gc(
    embedding: Embedding,
    x: torch.Tensor,
    y: torch.Tensor,
    estimator: str,
    n_probes: int,
    seed: int,
    batch_size: int,
    report: Progress,
) -> tuple[float, float]:
    """Class-balanced GC on the inputs ``x`` (CPU) and its standard error (module docstring)."""
    device = network_device(embedding.module)
    generator = torch.Generator().manual_seed(seed)
    chunks = x.split(batch_size)
    values = []
    for i, chunk in enumerate(chunks, start=1):
        values.append(
            per_example_gc(
                embedding.module,
                chunk.to(device),
                estimator,
                n_probes=n_probes,
                generator=generator,
                chunk_size=batch_size,
            ).cpu()
        )
        report.step(f"GC ({estimator})", i, len(chunks), "chunks")
    per_example = torch.cat(values)
    classes = [per_example[y == c] for c in torch.unique(y)]
    gc = sum(float(v.mean()) for v in classes) / len(classes)
    if min(v.numel() for v in classes) < 2:
        return gc, float("nan")
    return gc, math.sqrt(sum(float(v.var()) / v.numel() for v in classes)) / len(classes)
