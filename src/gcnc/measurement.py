"""One call that measures a network: :func:`measure` returns a :class:`Measurement` with embedding
GC, NC, geometric collapse (Eq. 7), NC1-NC4, numerical and stable rank, and accuracies.

How (paper Sections 3-4; definitions in :mod:`gcnc.metrics`):

1. One pass over the data, batch by batch on the network's device in eval mode and without
   gradients: the embedding f(x) (:mod:`gcnc.embedding`) and the logits of each batch go into the
   streaming metric :class:`gcnc.metrics.Collapse` (class statistics merged batch by batch; the
   features kept while they fit, for NC1, the ranks, NCM accuracy and NC4 in the small space of
   :mod:`gcnc.metrics.spectra`), and the inputs into a class-stratified random sample of at most
   ``gc_examples`` inputs, ``gc_examples // k`` per class, chosen by keys from each example's
   bytes and ``seed`` (:class:`gcnc.streams.ClassReservoir`): the same sample whatever the
   batching, the container or the order of the data.
2. When the features did not fit (``Collapse.needs_second_pass``), a second pass over the data
   (which must then yield the same examples: no random augmentation) for NCM accuracy, NC4 and,
   for very wide embeddings, NC1.
3. GC on the sampled inputs: ||J_f(x)||_F^2 per example (:func:`gcnc.metrics.gc.gc_terms`, with
   progress and the time left), averaged per class and then over classes, i.e. over the
   class-balanced distribution Q = (1/k) sum_c Q_c of Prop. 4.1. ``gc_stderr`` is the standard
   error of that stratified mean, sqrt(sum_c s_c^2 / (n_c k^2)) with s_c the spread of the
   per-example values of class c: it covers the sampling of examples and, for Hutchinson, of
   probes (each example's estimate is independent; its probes are drawn from its own key, so
   they too do not depend on the batching). ``estimator="auto"`` times a pilot on the network
   and picks exact GC when it is predicted to take at most ``gc_max_seconds``, else Hutchinson
   with the probes for ``gc_target_rse`` (:mod:`gcnc.metrics.gc_plan`); the choice, the
   predicted time and how to rerun alike are in ``notes``.

Read-only: the network's parameters, buffers and train/eval modes are as before, and no hook is
left on it, also after an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import torch

from gcnc.embedding import Embedding, network_device, network_dtype, resolve_embedding
from gcnc.metrics.collapse_metric import Collapse
from gcnc.metrics.gc import eval_mode
from gcnc.metrics.gc_plan import GC_MAX_SECONDS, GC_TARGET_RSE, GCPlan, plan_gc
from gcnc.metrics.inputs import GC_ESTIMATORS, check_finite_number, check_inputs, check_positive_int
from gcnc.metrics.result import CollapseResult
from gcnc.passes import first_pass, sampled_gc, second_pass
from gcnc.streams import ClassReservoir, Progress, batch_source

GC_EXAMPLES = 256  # default number of examples GC is measured on (class-stratified)


@dataclass(frozen=True, kw_only=True)
class Measurement(CollapseResult):
    """Metrics of one network on one data set: those of :class:`gcnc.metrics.CollapseResult`
    (named as in the study's ``metrics.csv``; ``detail`` with ``detail=True``), what the
    embedding is, and how GC was estimated. ``None``: not measurable here (no head, or a head
    with another number of classes; see ``notes``). NaN or inf: degenerate geometry, named by
    ``metric_status``."""

    gc: float
    gc_stderr: float
    embedding: str  # what f is, e.g. "input of 'fc' (512 -> 10)"
    gc_estimator: str  # "exact" or "hutchinson"
    gc_probes: int | None  # Hutchinson probes per example; None for exact

    def to_dict(self) -> dict[str, Any]:
        """A flat dict (a table row), ``embedding`` first; ``notes`` joined with '; '."""
        row = super().to_dict()
        return {"embedding": row.pop("embedding"), **row}


def check_options(estimator: str, seconds: dict[str, Any], **positive: Any) -> None:
    """``estimator`` is auto, exact or hutchinson; ``seconds`` are positive numbers and every
    other option given is an integer >= 1 (errors name the option)."""
    if estimator not in ("auto", *GC_ESTIMATORS):
        raise ValueError(f"estimator: '{estimator}' is not one of auto, {', '.join(GC_ESTIMATORS)}")
    for name, value in positive.items():
        if value is not None:
            check_positive_int(value, name)
    for name, value in seconds.items():
        if check_finite_number(value, name) <= 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")


def measure(
    model: Any,
    data: Any,
    labels: Any = None,
    *,
    embed: str | Callable | None = None,
    head: Callable | None = None,
    n_classes: int | None = None,
    estimator: str = "auto",
    n_probes: int | None = None,
    gc_examples: int = GC_EXAMPLES,
    gc_max_seconds: float = GC_MAX_SECONDS,
    gc_target_rse: float = GC_TARGET_RSE,
    batch_size: int = 64,
    seed: int = 0,
    detail: bool = False,
    progress: bool = False,
) -> Measurement:
    """Measure GC and neural collapse of ``model`` on ``data`` (see the module docstring).

    ``model``: a network (its embedding found as in :mod:`gcnc.embedding`) or an embedding
    callable. ``data``: a tensor or NumPy array of inputs with ``labels`` (integers 0..k-1: a
    tensor, an array or a list), a map-style Dataset of (input, label) pairs, or a DataLoader
    (any re-iterable of batches). Inputs must be normalised as the network expects; floating
    inputs are cast to the dtype of the network's parameters (kept as they are for a callable
    without parameters) and moved batch by batch to its device. ``embed``: a layer name or a
    callable (x -> features) instead of the automatic embedding; ``head``: the logits of a
    callable embedding. ``n_classes``: k (default: the largest label + 1; every class needs an
    example).

    GC is measured on ``gc_examples`` class-stratified examples (``seed`` draws them and the
    probes) with ``estimator`` ``exact``, ``hutchinson`` (``n_probes`` per example, default 16)
    or ``auto``: exact when a timed pilot predicts at most ``gc_max_seconds`` (default 60 s),
    else Hutchinson with ``n_probes`` or, by default, the probes for a relative standard error of
    ``gc_target_rse`` (default 1%) from the probes, within the budget (on fewer examples, two
    per class at least, when one probe each does not fit). ``batch_size``: examples
    per forward pass and per GC backward graph. ``detail``: per-class counts, means, variances,
    GC and the CDNV matrix in ``Measurement.detail`` (:class:`gcnc.metrics.ClassDetail`).
    ``progress``: lines on stderr.
    """
    check_options(
        estimator,
        {"gc_max_seconds": gc_max_seconds, "gc_target_rse": gc_target_rse},
        n_probes=n_probes,
        gc_examples=gc_examples,
        batch_size=batch_size,
        n_classes=n_classes,
    )
    batches = batch_source(data, labels, batch_size, n_classes)
    device, dtype = network_device(model, embed, head), network_dtype(model, embed, head)
    first = next(batches(), None)
    if first is None:
        raise ValueError("data: no examples")
    probe = check_inputs(first[0], "data")[:2].to(device=device, dtype=dtype)
    embedding = resolve_embedding(model, embed, head, probe)
    report = Progress(progress)
    report.say(f"embedding: {embedding.description}")
    collapse, reservoir = Collapse(n_classes), ClassReservoir(gc_examples, seed)
    with eval_mode(embedding.module), torch.no_grad():
        first_pass(batches, embedding, collapse, reservoir, device, dtype, report)
        stats = collapse.classes.stats()
        if collapse.needs_second_pass:
            second_pass(batches, embedding, collapse, device, dtype, report)
    options = GcOptions(estimator, n_probes, gc_max_seconds, gc_target_rse, batch_size, seed)
    plan = add_gc(collapse, reservoir, stats.k, embedding, device, dtype, options, report)
    return measurement(collapse, embedding, stats.k, plan, detail)


@dataclass(frozen=True)
class GcOptions:
    """How :func:`measure` estimates GC (its keyword arguments of the same names)."""

    estimator: str
    n_probes: int | None
    max_seconds: float
    target_rse: float
    batch_size: int
    seed: int


def add_gc(
    collapse: Collapse, reservoir: ClassReservoir, k: int, embedding: Embedding,
    device: torch.device, dtype: torch.dtype | None, options: GcOptions, report: Progress,
) -> GCPlan:  # fmt: skip
    """Plan GC on the reservoir's examples (:func:`gcnc.metrics.gc_plan.plan_gc`), estimate it
    and add it to ``collapse``; returns the plan."""
    x_gc, y_gc = reservoir.sample()
    p = collapse.classes.stats().means.shape[1]
    plan = plan_gc(
        embedding.module,
        x_gc.to(device=device, dtype=dtype or x_gc.dtype),
        options.estimator,
        options.n_probes,
        max_seconds=options.max_seconds,
        target_rse=options.target_rse,
        chunk_size=options.batch_size,
        min_examples=2 * k,
        seed=options.seed,
    )
    report.say(plan.note)
    if plan.n_examples is not None:
        x_gc, y_gc = reservoir.sample(per_class=max(1, plan.n_examples // k))
    x_gc = x_gc.to(dtype or x_gc.dtype)
    values = sampled_gc(embedding, x_gc, p, plan, options.seed, options.batch_size, report)
    collapse.update_gc(values, y_gc)
    return plan


def measurement(
    collapse: Collapse, embedding: Embedding, k: int, plan: GCPlan, detail: bool
) -> Measurement:
    """The :class:`Measurement` of the accumulated statistics, with the notes of the run."""
    notes = [f"embedding: {embedding.description}"]
    if collapse.logit_classes is None:
        notes.append("no logits (no head): no accuracy, NC3 or NC4")
    head_weight = embedding.head.weight if embedding.head is not None else None
    p = collapse.classes.stats().means.shape[1]
    fits = collapse.logit_classes == k and head_weight is not None
    result = collapse.compute(
        head_weight=head_weight if fits and tuple(head_weight.shape) == (k, p) else None,
        detail=detail,
    )
    values = {f.name: getattr(result, f.name) for f in fields(result)}
    values["notes"] = (*notes, *result.notes, plan.note)
    return Measurement(
        **values,
        embedding=embedding.description,
        gc_estimator=plan.estimator,
        gc_probes=plan.n_probes,
    )
