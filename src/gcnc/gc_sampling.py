"""Robustness of the empirical GC to sampling (the paper's Fig. 2, Prop. 4.2).

Three sampling axes of the paper - examples in the batch, Jacobian entries (input coordinates),
embedding features - plus Hutchinson probes at the same cost as feature sampling. Each estimate is
repeated over trials and compared with the exact GC on the same evaluation set. A level that keeps
everything (all examples, all Jacobian entries, all features) is deterministic: it is computed
once and its value and time repeated in each trial's row. Runs on the model's device.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import torch
from torch import nn

from gcnc.data.prepared import Split
from gcnc.metrics.gc import embedding_gc, eval_mode
from gcnc.metrics.snapshot import model_device
from gcnc.training import eval_subset


def _timed(fn) -> tuple[float, float]:
    t = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t


def _deterministic(kwargs: dict[str, Any], n: int) -> bool:
    """Whether a sampling level keeps everything, so that every trial gives the same value."""
    if kwargs.get("estimator") == "hutchinson":
        return False
    if "n_examples" in kwargs:
        return kwargs["n_examples"] >= n
    return kwargs.get("input_fraction", kwargs.get("feature_fraction", 0.0)) >= 1.0


def sampling_study(model: nn.Module, split: Split, cfg: dict[str, Any]) -> pd.DataFrame:
    """Rows (axis, level, trial, estimate, exact, seconds, exact_seconds, n_probes), one per
    level and trial. A level that keeps everything (all examples, all Jacobian entries, all
    features) is the exact GC itself, so its rows carry the exact value and cost, computed once
    (the forward-mode route to the same number would cost d JVPs: minutes on a CPU)."""
    ev = eval_subset(split, cfg["eval_examples"], balanced=False)  # GC: classes do not matter
    x = ev.x.to(model_device(model))
    exact, exact_s = _timed(lambda: embedding_gc(model.embed, x))
    with eval_mode(model.embed), torch.no_grad():
        p = model.embed(x[:1]).shape[1]
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
        once = _deterministic(kwargs, x.shape[0])
        for trial in range(cfg["trials"]):
            g = torch.Generator().manual_seed(1000 * trial + 17)
            if once:
                value, secs = exact, exact_s
            else:
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
