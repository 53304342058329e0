"""One call that measures a network: :func:`measure` returns a :class:`Measurement` with embedding
GC, NC, geometric collapse (Eq. 7), NC1-NC4, numerical and stable rank, and accuracies.

How (paper Sections 3-4; definitions in :mod:`gcnc.metrics`):

1. One pass over the data, batch by batch on the network's device in eval mode and without
   gradients: the embedding f(x) (:mod:`gcnc.embedding`) and the logits of each batch go into
   class statistics merged batch by batch (:class:`gcnc.metrics.streaming.ClassAccumulator`:
   means, CDNV variances, within-class scatter for NC1, Grams for the stable rank), and into a
   class-stratified random sample of at most ``gc_examples`` inputs, ``gc_examples // k`` per
   class (:class:`gcnc.streams.ClassReservoir`).
   Features are kept while they fit ``gcnc.passes.KEPT_FEATURES_MAX`` values.
2. NCM accuracy and NC4 need the final class means: computed on the kept features, or else in a
   second pass over the data (which must then yield the same examples: no random augmentation).
3. GC on the sampled inputs: ||J_f(x)||_F^2 per example (:func:`gcnc.metrics.per_example_gc`),
   averaged per class and then over classes, i.e. over the class-balanced distribution
   Q = (1/k) sum_c Q_c of Prop. 4.1. ``gc_stderr`` is the standard error of that stratified
   mean, sqrt(sum_c s_c^2 / (n_c k^2)) with s_c the spread of the per-example values of class c:
   it covers the sampling of examples and, for Hutchinson, of probes (each example's estimate is
   independent). ``estimator="auto"`` computes GC exactly unless that costs more than
   ``exact_max_products`` Jacobian-vector products (n_gc x min(p, 2d), the products exact GC
   does), and then uses Hutchinson with ``n_probes`` probes; the choice is in ``notes``.

Read-only: the network's parameters, buffers and train/eval modes are as before, and no hook is
left on it, also after an error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from gcnc.embedding import network_device, network_dtype, resolve_embedding
from gcnc.metrics.collapse import (
    cdnv,
    geometric_collapse,
    metric_status,
    nc2,
    nc3,
    neural_collapse,
)
from gcnc.metrics.gc import JVP_COST, eval_mode
from gcnc.metrics.inputs import GC_ESTIMATORS, check_inputs, check_positive_int
from gcnc.metrics.streaming import GRAM_MAX_ELEMENTS, ClassAccumulator
from gcnc.passes import balanced_gc, first_pass, ncm_counts
from gcnc.streams import ClassReservoir, Progress, batch_source

GC_EXAMPLES = 256  # default number of examples GC is measured on (class-stratified)
EXACT_MAX_PRODUCTS = 16_384  # estimator="auto": exact GC up to this many Jacobian products


@dataclass(frozen=True)
class Measurement:
    """Metrics of one network on one data set (names as in the study's ``metrics.csv``).
    ``None``: not measurable here (no head, or a head with another number of classes; see
    ``notes``). NaN or inf: degenerate geometry, named by ``metric_status``."""

    embedding: str  # what f is, e.g. "input of 'fc' (512 -> 10)"
    n_examples: int
    n_classes: int
    embed_dim: int
    gc: float  # GC(f; Q), class-balanced mean of ||J_f(x)||_F^2
    gc_stderr: float  # standard error of gc (examples and probes), see the module docstring
    gc_estimator: str  # "exact" or "hutchinson"
    gc_probes: int | None  # Hutchinson probes per example; None for exact
    gc_examples: int  # examples GC was measured on
    nc: float  # average CDNV over ordered class pairs
    cdnv_max: float
    geometric_collapse: float  # Eq. (7)
    nc1: float
    nc2_equinorm: float
    nc2_equiangle: float
    nc3: float | None
    nc4: float | None
    accuracy: float | None  # argmax of the network's logits
    ncm_accuracy: float  # nearest class mean, with this data's class means
    rank: int  # numerical rank of the centred features (rtol 1e-3)
    stable_rank: float | None  # Li et al.'s numerical rank
    metric_status: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """A flat dict (a table row); ``notes`` joined with '; '."""
        return {**asdict(self), "notes": "; ".join(self.notes)}

    def to_pandas(self) -> Any:
        """A one-row ``pandas.DataFrame`` (pandas is imported here, not by gcnc)."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])

    def __str__(self) -> str:
        width = max(len(f.name) for f in fields(self))
        rows = [f"{k:<{width}}  {_fmt(v)}" for k, v in self.to_dict().items() if k != "notes"]
        return "\n".join(rows + [f"note: {n}" for n in self.notes])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def choose_gc_estimator(
    estimator: str, n_gc: int, p: int, d: int, n_probes: int, exact_max_products: int
) -> tuple[str, str]:
    """The GC estimator to use and a note saying why, from the Jacobian-vector products of exact
    GC (n_gc x min(p, JVP_COST d): reverse or forward mode, as gc_terms picks) and Hutchinson's
    (n_gc x n_probes)."""
    exact = n_gc * math.ceil(min(p, JVP_COST * d))
    hutch = n_gc * n_probes
    costs = f"{exact:,} Jacobian products for exact, {hutch:,} for Hutchinson with {n_probes}"
    if estimator == "auto":
        pick = "hutchinson" if exact > exact_max_products and hutch < exact else "exact"
        why = f"> {exact_max_products:,}" if pick == "hutchinson" else f"<= {exact_max_products:,}"
        return pick, f"GC estimator {pick} (auto: {costs} probes; exact {why})"
    return estimator, f"GC estimator {estimator} (chosen; {costs} probes)"


def check_options(estimator: str, **positive: Any) -> None:
    """``estimator`` is auto, exact or hutchinson; every other option given is an integer >= 1."""
    if estimator not in ("auto", *GC_ESTIMATORS):
        raise ValueError(f"estimator: '{estimator}' is not one of auto, {', '.join(GC_ESTIMATORS)}")
    for name, value in positive.items():
        if value is not None:
            check_positive_int(value, name)


def measure(
    model: Any,
    data: Any,
    labels: Any = None,
    *,
    embed: str | Callable | None = None,
    head: Callable | None = None,
    n_classes: int | None = None,
    estimator: str = "auto",
    n_probes: int = 16,
    gc_examples: int = GC_EXAMPLES,
    exact_max_products: int = EXACT_MAX_PRODUCTS,
    batch_size: int = 64,
    seed: int = 0,
    progress: bool = False,
) -> Measurement:
    """Measure GC and neural collapse of ``model`` on ``data`` (see the module docstring).

    ``model``: a network (its embedding found as in :mod:`gcnc.embedding`) or an embedding
    callable. ``data``: a tensor or NumPy array of inputs with ``labels`` (integers 0..k-1), a
    map-style Dataset of (input, label) pairs, or a DataLoader (any re-iterable of batches).
    Inputs must be normalised as the network expects; floating inputs are cast to the dtype of
    the network's parameters (kept as they are for a callable without parameters) and moved
    batch by batch to its device. ``embed``: a layer name or a callable (x ->
    features) instead of the automatic embedding; ``head``: the logits of a callable embedding.
    ``n_classes``: k (default: the largest label + 1; every class needs an example).
    ``estimator``: ``auto``, ``exact`` or ``hutchinson`` (``n_probes`` per example) for GC on
    ``gc_examples`` class-stratified examples (``seed`` draws them and the probes).
    ``batch_size``: examples per forward pass and per GC backward graph. ``progress``: lines on
    stderr.
    """
    check_options(
        estimator,
        n_probes=n_probes,
        gc_examples=gc_examples,
        exact_max_products=exact_max_products,
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
    acc, reservoir = ClassAccumulator(n_classes), ClassReservoir(gc_examples, seed)
    with eval_mode(embedding.module), torch.no_grad():
        seen = first_pass(batches, embedding, acc, reservoir, device, dtype, report)
        stats = acc.stats()
        ncm_correct, disagree = ncm_counts(seen, batches, embedding, stats.means, dtype, report)
    k, p = stats.k, stats.means.shape[1]
    notes = [f"embedding: {embedding.description}"]
    with_head = seen.logit_classes == k
    if seen.logit_classes is None:
        notes.append("no logits (no head): no accuracy, NC3 or NC4")
    elif not with_head:
        notes.append(f"head of {seen.logit_classes} classes, data of {k}: no accuracy, NC3, NC4")
    if acc.grams_skipped:
        notes.append(f"stable rank skipped: k p^2 = {k * p * p:,} > {GRAM_MAX_ELEMENTS:,}")
    x_gc, y_gc = reservoir.sample()
    d = math.prod(x_gc.shape[1:])
    chosen, why = choose_gc_estimator(estimator, x_gc.shape[0], p, d, n_probes, exact_max_products)
    notes.append(why)
    report.say(why)
    gc, gc_stderr = balanced_gc(
        embedding, x_gc.to(dtype or x_gc.dtype), y_gc, chosen, n_probes, seed, batch_size, report
    )
    if math.isnan(gc_stderr):
        notes.append("gc_stderr needs >= 2 GC examples per class: raise gc_examples")
    head_weight = embedding.head.weight if embedding.head is not None else None
    self_dual = with_head and head_weight is not None and tuple(head_weight.shape) == (k, p)
    equinorm, equiangle = nc2(stats)
    return Measurement(
        embedding=embedding.description,
        n_examples=seen.n,
        n_classes=k,
        embed_dim=p,
        gc=gc,
        gc_stderr=gc_stderr,
        gc_estimator=chosen,
        gc_probes=n_probes if chosen == "hutchinson" else None,
        gc_examples=int(x_gc.shape[0]),
        nc=neural_collapse(stats),
        cdnv_max=float(cdnv(stats).nan_to_num(nan=0.0, posinf=math.inf).max()),
        geometric_collapse=geometric_collapse(gc, stats),
        nc1=acc.nc1(),
        nc2_equinorm=equinorm,
        nc2_equiangle=equiangle,
        nc3=nc3(stats, None, head_weight) if self_dual else None,
        nc4=disagree / seen.n if with_head else None,
        accuracy=seen.correct / seen.n if with_head else None,
        ncm_accuracy=ncm_correct / seen.n,
        rank=acc.numerical_rank(),
        stable_rank=acc.stable_rank(),
        metric_status=metric_status(stats),
        notes=tuple(notes),
    )
