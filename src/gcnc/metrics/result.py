"""The result of :class:`gcnc.Collapse` (and, with the GC estimator and the embedding, of
:func:`gcnc.measure`): one field per quantity, named as the column of the study's
``metrics.csv`` that holds it.

``nc`` is the paper's NC(f; Q), the average CDNV over ordered class pairs (Section 3), not one of
Papyan et al.'s NC1-NC4, which keep their own names (``nc1``, ``nc2_equinorm``,
``nc2_equiangle``, ``nc3``, ``nc4``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from gcnc.metrics.detail import ClassDetail, import_pandas


@dataclass(frozen=True, kw_only=True)
class CollapseResult:
    """Neural-collapse metrics of an embedding on a data set. ``None``: not measurable from what
    was given (see ``notes``); NaN or inf: degenerate geometry, named by ``metric_status``."""

    n_examples: int
    n_classes: int
    embed_dim: int
    gc: float | None  # GC(f; Q): class-balanced mean of ||J_f(x)||_F^2 (None: no GC given)
    gc_stderr: float | None  # standard error of gc over the GC examples (and probes)
    gc_examples: int  # examples GC was measured on
    nc: float  # the paper's NC(f; Q): average CDNV over ordered class pairs
    cdnv_max: float  # the largest CDNV of a pair
    geometric_collapse: float | None  # Eq. (7): GC / (k-1) sum_{i != j} 1 / ||mu_i - mu_j||^2
    nc1: float | None  # tr(Sigma_W Sigma_B^+) / k (Papyan et al.)
    nc2_equinorm: float  # std / mean of the centred class-mean norms
    nc2_equiangle: float  # Avg_{i != j} |cos_ij + 1/(k-1)|
    nc3: float | None  # self-duality of the head's weight and the centred means
    nc4: float | None  # share of examples where the logits' argmax and the NCM disagree
    accuracy: float | None  # argmax of the logits
    ncm_accuracy: float | None  # nearest class mean, with this data's class means
    rank: int | None  # numerical rank of the centred features (rtol 1e-3)
    stable_rank: float | None  # Li et al.'s numerical rank (App. A.1)
    metric_status: str  # ok, or the degenerate cases (gcnc.metrics.collapse.metric_status)
    notes: tuple[str, ...] = ()
    detail: ClassDetail | None = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """A flat dict (a table row) of every field but ``detail``; ``notes`` joined with '; '."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "detail"}
        return {**row, "notes": "; ".join(self.notes)}

    def to_pandas(self) -> Any:
        """A one-row ``pandas.DataFrame`` of :meth:`to_dict` (pandas is imported here only)."""
        return import_pandas(f"{type(self).__name__}.to_pandas()").DataFrame([self.to_dict()])

    def __str__(self) -> str:
        row = {k: v for k, v in self.to_dict().items() if k != "notes"}
        width = max(map(len, row))
        lines = [f"{k:<{width}}  {_fmt(v)}" for k, v in row.items()]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:.6g}"
    return str(value)
