"""A streaming neural-collapse metric for training loops: :class:`Collapse` is fed batch by
batch (``update``), read at any step (``compute``) and emptied (``reset``), like a torchmetrics
metric; :func:`gcnc.measure` uses the same object.

    metric = gcnc.Collapse(n_classes=10)
    for x, y in loader:
        with torch.no_grad():
            features = model.embed(x)
            metric.update(features, y, logits=model.head(features))
    result = metric.compute(head_weight=model.head.weight)  # result.nc, result.nc1, ...

Class statistics are merged batch by batch in float64 (:class:`ClassAccumulator`); the features
are kept while N p <= ``keep_features`` values, which gives NCM accuracy and NC4 with the final
class means. Beyond that they need a second pass: ``needs_second_pass`` is then true and
:meth:`Collapse.second_pass` takes the same batches again (``gcnc.measure`` does it).

GC: ``update(..., gc=values)`` or :meth:`Collapse.update_gc` take ||J_f(x)||_F^2 per example
(:func:`gcnc.metrics.per_example_gc`), on the examples of the batch or on any other examples of the
classes; ``gc`` is then the class-balanced mean, the mean over classes of each class's mean
(Prop. 4.1's Q = 1/k sum_c Q_c), with its stratified standard error sqrt(sum_c s_c^2 / n_c) / k.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from gcnc.metrics.collapse import (
    cdnv,
    geometric_collapse,
    metric_status,
    nc2,
    nc3,
    neural_collapse,
)
from gcnc.metrics.detail import ClassDetail
from gcnc.metrics.inputs import as_tensor, check_features, check_finite, check_labels
from gcnc.metrics.ncm import ncm_predict
from gcnc.metrics.result import CollapseResult
from gcnc.metrics.spectra import BetweenClassBasis, nc1_from_projections
from gcnc.metrics.streaming import ClassAccumulator


class Collapse:
    """Neural collapse (NC, CDNV, NC1-NC4, ranks), accuracies and, given per-example GC values,
    GC and geometric collapse (Eq. 7), of embeddings fed batch by batch (module docstring).

    ``n_classes``: k (default: the largest label seen + 1; every class needs an example).
    ``keep_features``: feature values kept for NCM accuracy, NC4, NC1 and the ranks on all
    features at once (default ``KEEP_FEATURES_MAX`` = 2^25; beyond them, see
    :mod:`gcnc.metrics.streaming`).
    """

    def __init__(self, n_classes: int | None = None, *, keep_features: int | None = None):
        self.n_classes, self.keep_features = n_classes, keep_features
        self.reset()

    def reset(self) -> None:
        """Forget every batch (a new epoch, a new split)."""
        self.classes = ClassAccumulator(self.n_classes, self.keep_features)
        self._argmax: list[torch.Tensor] | None = []  # the logits' argmax of the kept features
        self._correct, self._logit_classes, self._logits_missing = 0, None, False
        self._gc: list[tuple[torch.Tensor, torch.Tensor]] = []  # (values, labels) per update
        self._second: dict[str, Any] | None = None

    def update(
        self, features: Any, labels: Any, *, logits: Any = None, gc: Any = None, name: str = ""
    ) -> None:
        """Add a batch: ``features`` (n, p), ``labels`` (n,) in 0..k-1 (a tensor, an array or a
        list), optionally the network's ``logits`` (n, classes) and ``gc``, ||J_f(x)||_F^2 of
        each of the n examples. Errors about the features name ``name`` (default: features)."""
        if self._second is not None:
            raise ValueError("update: the second pass has begun; call reset() first")
        z = None if logits is None else check_features(logits, "logits")
        given = as_tensor(features, name or "features")  # checked in full by classes.add
        rows = given.shape[0] if given.dim() else 0
        if z is not None and tuple(z.shape) != (rows, self._logit_classes or z.shape[1]):
            raise ValueError(
                f"logits: shape {tuple(z.shape)}, expected ({rows}, classes) with the "
                f"{self._logit_classes or 'same'} classes of every batch"
            )
        values = None if gc is None else _gc_values(gc, rows)
        y = self.classes.add(features, labels, name=name or "features")
        argmax = None
        if z is None:
            self._logits_missing = True
        else:
            self._logit_classes = z.shape[1]
            argmax = z.detach().argmax(1).to(y.device)
            self._correct += int((argmax == y).sum())
        if self.classes.kept is None:
            self._argmax = None
        elif self._argmax is not None and argmax is not None:
            self._argmax.append(argmax)
        if values is not None:
            self._gc.append((values, y.cpu()))

    def update_gc(self, gc: Any, labels: Any) -> None:
        """Add per-example GC values ||J_f(x)||_F^2 (a tensor, an array or a list) of examples of
        the classes ``labels``."""
        values = _gc_values(gc)
        y = check_labels(labels, values.numel(), self.n_classes, rows_of="gc").cpu()
        self._gc.append((values, y))

    @property
    def logit_classes(self) -> int | None:
        """Columns of the logits given (None: no logits given)."""
        return self._logit_classes

    @property
    def needs_second_pass(self) -> bool:
        """Whether NCM accuracy, NC4 or NC1 need the batches again (features not kept)."""
        return self.classes.kept is None

    def second_pass(self, features: Any, labels: Any, *, logits: Any = None) -> None:
        """Take a batch again, after every :meth:`update`: NCM predictions with the final class
        means (NCM accuracy, and NC4 with the logits) and, when S_W was not accumulated, the
        projections NC1 reads (:mod:`gcnc.metrics.spectra`)."""
        if self._second is None:
            basis = self.classes.nc1_basis() if self.classes.scatter is None else None
            self._second = {"basis": basis, "n": 0, "correct": 0, "disagree": 0, "sq": 0.0}
        s = self._second
        f = check_features(features, "features").detach()
        y = check_labels(labels, f.shape[0], self.classes.k).to(f.device)
        pred = ncm_predict(f, self.classes.means)
        s["n"] += y.shape[0]
        s["correct"] += int((pred == y).sum())
        if logits is not None:
            s["disagree"] += int((pred != as_tensor(logits, "logits").argmax(1).to(f.device)).sum())
        if s["basis"] is not None:
            centred = f.double() - self.classes.means[y]
            s["sq"] = s["sq"] + (centred @ s["basis"].directions).pow(2).sum(0)

    def _ncm(self, means: torch.Tensor) -> tuple[float | None, float | None]:
        """(NCM accuracy, NC4) from the kept features or the second pass (None without)."""
        n = self.classes.n
        if self.classes.kept:
            f, y = self.classes.features()
            pred = ncm_predict(f, means)
            complete = self._argmax and not self._logits_missing
            argmax = torch.cat(self._argmax) if complete else None
            nc4 = None if argmax is None else float((pred != argmax).double().mean())
            return float((pred == y).double().mean()), nc4
        if self._second is None or self._second["n"] != n:
            return None, None
        return self._second["correct"] / n, self._second["disagree"] / n

    def _nc1(self) -> float | None:
        value = self.classes.nc1()
        if value is None and self._second is not None and self._second["n"] == self.classes.n:
            basis: BetweenClassBasis = self._second["basis"]
            return nc1_from_projections(torch.as_tensor(self._second["sq"]), basis, self.classes.n)
        return value

    def _gc_stats(self, k: int) -> tuple[float | None, float | None, torch.Tensor, torch.Tensor]:
        """(GC, its standard error, per-class means, per-class counts) of the GC values."""
        if not self._gc:
            return None, None, torch.full((k,), math.nan), torch.zeros(k)
        values = torch.cat([v for v, _ in self._gc])
        y = torch.cat([y for _, y in self._gc])
        if int(y.max()) >= k:
            raise ValueError(f"gc: labels up to {int(y.max())}, but the features have {k} classes")
        counts = torch.bincount(y, minlength=k).double()
        if bool((counts == 0).any()):
            empty = torch.nonzero(counts == 0).flatten().tolist()
            raise ValueError(f"gc: classes {empty} have no GC values; GC averages every class")
        means = torch.zeros(k, dtype=torch.float64).index_add_(0, y, values) / counts
        sq = torch.zeros(k, dtype=torch.float64).index_add_(0, y, (values - means[y]).pow(2))
        gc = float(means.mean())
        if bool((counts < 2).any()):
            return gc, math.nan, means, counts
        return gc, float((sq / (counts - 1) / counts).sum().sqrt() / k), means, counts

    def compute(self, *, head_weight: Any = None, detail: bool = False) -> CollapseResult:
        """The metrics of every batch so far; ``head_weight`` (k x p, the linear head's weight)
        gives NC3; ``detail`` the per-class :class:`ClassDetail`. Raises ValueError for no data,
        fewer than two classes, or a class without examples."""
        stats = self.classes.stats()
        k, p, n = stats.k, stats.means.shape[1], self.classes.n
        notes = list(self.classes.notes)
        gc, gc_stderr, class_gc, gc_counts = self._gc_stats(k)
        if gc_stderr is not None and math.isnan(gc_stderr):
            notes.append("gc_stderr needs >= 2 GC examples per class")
        with_logits = self._logit_classes == k and not self._logits_missing
        if self._logit_classes is not None and not with_logits:
            notes.append(
                f"logits of {self._logit_classes} classes for data of {k}, or not in every "
                "batch: no accuracy or NC4"
            )
        ncm_accuracy, nc4 = self._ncm(stats.means)
        if ncm_accuracy is None:
            notes.append(
                "features not kept (N p > keep_features): NCM accuracy and NC4 need second_pass()"
            )
        cdnv_matrix = cdnv(stats)
        equinorm, equiangle = nc2(stats)
        return CollapseResult(
            n_examples=n,
            n_classes=k,
            embed_dim=p,
            gc=gc,
            gc_stderr=gc_stderr,
            gc_examples=int(gc_counts.sum()),
            nc=neural_collapse(stats),
            cdnv_max=float(cdnv_matrix.nan_to_num(nan=0.0, posinf=math.inf).max()),
            geometric_collapse=None if gc is None else geometric_collapse(gc, stats),
            nc1=self._nc1(),
            nc2_equinorm=equinorm,
            nc2_equiangle=equiangle,
            nc3=None if head_weight is None else nc3(stats, None, head_weight),
            nc4=nc4 if with_logits else None,
            accuracy=self._correct / n if with_logits else None,
            ncm_accuracy=ncm_accuracy,
            rank=self.classes.numerical_rank(),
            stable_rank=self.classes.stable_rank(),
            metric_status=metric_status(stats),
            notes=tuple(notes),
            detail=ClassDetail(
                n=stats.counts.long().cpu().numpy(),
                means=stats.means.cpu().numpy(),
                variance=stats.variances.cpu().numpy(),
                gc=None if gc is None else class_gc.numpy(),
                gc_examples=gc_counts.long().numpy(),
                cdnv=cdnv_matrix.cpu().numpy(),
            )
            if detail
            else None,
        )


def _gc_values(gc: Any, rows: int | None = None) -> torch.Tensor:
    """Per-example GC values as a finite, non-negative float64 CPU vector (``rows`` long when
    given); errors name ``gc``."""
    if isinstance(gc, (list, tuple)):
        gc = torch.tensor(gc, dtype=torch.float64)
    values = as_tensor(gc, "gc").detach().double().flatten().cpu()
    if rows is not None and values.numel() != rows:
        raise ValueError(f"gc: {values.numel()} values for {rows} rows of features")
    check_finite(values, "gc")
    if bool((values < 0).any()):
        raise ValueError("gc: squared Jacobian norms cannot be negative")
    return values
