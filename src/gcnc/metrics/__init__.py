"""Measurements of the paper: embedding GC, CDNV / NC, geometric collapse (Eq. 7), NC1-NC4.

Public API: :class:`Collapse` (the streaming metric of a training loop: update, compute, reset;
its :class:`CollapseResult` and per-class :class:`ClassDetail`), :func:`embedding_gc`,
:func:`per_example_gc`, :func:`per_feature_gc`,
:func:`gc_penalty`, :func:`cdnv`, :func:`neural_collapse`, :func:`geometric_collapse`, :func:`nc1`,
:func:`nc2`, :func:`nc3`, :func:`nc4`, :func:`numerical_rank`, :func:`stable_rank`,
:func:`ncm_accuracy`, :func:`ncm_predict`, :func:`pairwise_sq_distances`, :func:`path_slope`, and
:class:`ClassAccumulator` (the class statistics behind :class:`Collapse`). Every function checks its
inputs (:mod:`gcnc.metrics.inputs`); only torch is imported.
"""

from gcnc.metrics.collapse import (
    NC2,
    ClassStats,
    cdnv,
    class_stats,
    geometric_collapse,
    inverse_distance_sum,
    nc1,
    nc2,
    nc3,
    neural_collapse,
    numerical_rank,
    pairwise_sq_distances,
    stable_rank,
)
from gcnc.metrics.collapse_metric import Collapse
from gcnc.metrics.detail import ClassDetail
from gcnc.metrics.gc import embedding_gc, per_example_gc, per_feature_gc
from gcnc.metrics.gc_penalty import gc_penalty
from gcnc.metrics.ncm import nc4, ncm_accuracy, ncm_predict
from gcnc.metrics.result import CollapseResult
from gcnc.metrics.slope import path_slope
from gcnc.metrics.streaming import ClassAccumulator

__all__ = [
    "NC2",
    "ClassAccumulator",
    "ClassDetail",
    "ClassStats",
    "Collapse",
    "CollapseResult",
    "cdnv",
    "class_stats",
    "embedding_gc",
    "gc_penalty",
    "geometric_collapse",
    "inverse_distance_sum",
    "nc1",
    "nc2",
    "nc3",
    "nc4",
    "ncm_accuracy",
    "ncm_predict",
    "neural_collapse",
    "numerical_rank",
    "pairwise_sq_distances",
    "path_slope",
    "per_example_gc",
    "per_feature_gc",
    "stable_rank",
]
