"""Robustness of the empirical GC to sampling (the paper's Fig. 2, Prop. 4.2).

Three sampling axes of the paper - examples in the batch, Jacobian entries (input coordinates),
embedding features - plus Hutchinson probes at the same cost as feature sampling. Each estimate is
repeated over trials and compared with the exact GC on the same evaluation set.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import torch
from torch import nn

from gcnc.data.prepared import Split
from gcnc.metrics.gc import embedding_gc
from gcnc.training import eval_subset


def _timed(fn) -> tuple[float, float]:
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def sampling_study(model: nn.Module, split: Split, cfg: dict[str, Any]) -> pd.DataFrame:
    """Rows (axis, level, trial, estimate, exact, seconds, exact_seconds), every level."""
    ev = eval_subset(split, cfg["eval_examples"])
    x = ev.x
    exact, exact_s = _timed(lambda: embedding_gc(model.embed, x))
    with torch.no_grad():
        p = model.embed.eval()(x[:1]).shape[1]
    axes: list[tuple[str, float, dict[str, Any]]] = []
    axes += [("examples", n, {"n_examples": int(n)}) for n in cfg["example_counts"]]
    axes += [("jacobian_entries", f, {"input_fraction": f}) for f in cfg["input_fractions"]]
    axes += [("features", f, {"feature_fraction": f}) for f in cfg["feature_fractions"]]
    axes += [
        ("hutchinson", f, {"estimator": "hutchinson", "n_probes": max(1, math.ceil(f * p))})
        for f in cfg["feature_fractions"]
    ]
    rows = []
    for axis, level, kwargs in axes:
        for trial in range(cfg["trials"]):
            g = torch.Generator().manual_seed(1000 * trial + 17)
            value, secs = _timed(
                lambda kw=kwargs, gen=g: embedding_gc(model.embed, x, generator=gen, **kw)
            )
            rows.append(
                {
                    "axis": axis,
                    "level": level,
                    "trial": trial,
                    "estimate": value,
                    "exact": exact,
                    "seconds": secs,
                    "exact_seconds": exact_s,
                    "n_probes": kwargs.get("n_probes"),
                }
            )
    return pd.DataFrame(rows)
