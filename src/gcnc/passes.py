"""The passes of :func:`gcnc.measure` over the data, and GC on the sampled examples (the steps
are described in :mod:`gcnc.measurement`)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from gcnc.embedding import Embedding, network_device
from gcnc.metrics.collapse_metric import Collapse
from gcnc.metrics.draws import example_keys
from gcnc.metrics.gc import exact_mode, gc_terms
from gcnc.metrics.gc_plan import GCPlan
from gcnc.metrics.inputs import check_inputs, check_labels
from gcnc.streams import BatchSource, ClassReservoir, Progress


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


def first_pass(
    batches: BatchSource,
    embedding: Embedding,
    collapse: Collapse,
    reservoir: ClassReservoir,
    device: torch.device,
    dtype: torch.dtype | None,
    report: Progress,
) -> None:
    """Embed every batch: features, labels and logits into ``collapse``, the inputs offered to
    ``reservoir``."""
    steps = embedded(batches, embedding, collapse.n_classes, device, dtype)
    for i, (x, y, f, logits) in enumerate(steps, start=1):
        collapse.update(f, y, logits=logits, name=f"embed ({embedding.description})")
        reservoir.offer(x, y)
        report.step("embeddings", i, batches.n_batches, "batches")


def second_pass(
    batches: BatchSource,
    embedding: Embedding,
    collapse: Collapse,
    device: torch.device,
    dtype: torch.dtype | None,
    report: Progress,
) -> None:
    """The batches again, for what needs the final class means (:meth:`Collapse.second_pass`)."""
    report.say("features exceed keep_features: a second pass for NCM accuracy, NC4 (and NC1)")
    steps = embedded(batches, embedding, collapse.classes.k, device, dtype)
    for i, (_x, y, f, logits) in enumerate(steps, start=1):
        collapse.second_pass(f, y, logits=logits)
        report.step("second pass", i, batches.n_batches, "batches")


def sampled_gc(
    embedding: Embedding,
    x: torch.Tensor,
    p: int,
    plan: GCPlan,
    seed: int,
    batch_size: int,
    report: Progress,
) -> torch.Tensor:
    """||J_f(x)||_F^2 of every sampled input ``x`` (CPU, float64) for an embedding of width
    ``p``, with the estimator of ``plan``; Hutchinson's probes are keyed by each example
    (:mod:`gcnc.metrics.draws`), so a value does not depend on the other examples or on
    ``batch_size``. Progress counts the Jacobian products, with the time left."""
    module = embedding.module
    inputs = x.to(network_device(module))
    keys = example_keys(x, seed, "probes") if plan.estimator == "hutchinson" else None
    per_example = plan.n_probes or exact_mode(p, math.prod(x.shape[1:]))[1]
    total, stage, done = x.shape[0] * per_example, f"GC ({plan.estimator})", [0]

    def on_products(products: int) -> None:
        done[0] += products
        report.step(stage, done[0], total, "Jacobian products")

    report.step(stage, 0, total, "Jacobian products")
    values, _ = gc_terms(
        module,
        inputs,
        plan.estimator,
        n_probes=plan.n_probes or 1,
        chunk_size=batch_size,
        probe_keys=keys,
        on_products=on_products,
    )
    return values.cpu()
