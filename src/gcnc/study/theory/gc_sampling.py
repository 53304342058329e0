"""Robustness of the empirical GC to sampling (the paper's Fig. 2, Prop. 4.2).

Three sampling axes of the paper - examples in the batch, Jacobian entries (input coordinates),
embedding features - plus Hutchinson probes at the same cost as feature sampling. Each estimate is
repeated over trials on a fixed pool of ``eval_examples`` training examples and compared with two
exact values: the exact GC of that pool (what the sampled estimates average to; the examples axis
reaches it by construction when it keeps the whole pool) and a held-out reference, the exact GC
of up to ``heldout_examples`` other training examples, disjoint from the pool (with its standard
error), which estimates the population GC independently of the samples. A level that keeps
everything (all examples, all Jacobian entries, all features) is deterministic: it is computed
once and its value and time repeated in each trial's row. Each row also records the estimate's
cost in Jacobian-vector products (reverse-mode VJPs and forward-mode JVPs, summed over examples).
Runs on the model's device.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
import torch
from torch import nn

from gcnc.metrics.gc import JVP_COST, embedding_gc, eval_mode, per_example_gc
from gcnc.metrics.snapshot import model_device
from gcnc.study.data.prepared import Split
from gcnc.study.pretraining.evaluation import eval_subset

HELDOUT_EXAMPLES = 1000  # default size of the held-out reference (capped by the split)


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


def _products(kwargs: dict[str, Any], n: int, p: int, d: int) -> tuple[int, int]:
    """(VJPs, JVPs) that one estimate at a sampling level costs, summed over its examples.

    The exact GC takes p reverse-mode VJPs per example, or d forward-mode JVPs where that is
    cheaper (``JVP_COST * d < p``, as :func:`gcnc.metrics.gc.gc_terms` chooses); input sampling
    takes ceil(f d) JVPs, feature sampling ceil(f p) VJPs, Hutchinson one VJP per probe.
    """
    if _deterministic(kwargs, n):
        kwargs = {}
    examples = min(n, kwargs.get("n_examples", n))
    if kwargs.get("estimator") == "hutchinson":
        return examples * kwargs["n_probes"], 0
    if "input_fraction" in kwargs:
        return 0, examples * max(1, math.ceil(kwargs["input_fraction"] * d))
    if "feature_fraction" in kwargs:
        return examples * max(1, math.ceil(kwargs["feature_fraction"] * p)), 0
    return (0, examples * d) if JVP_COST * d < p else (examples * p, 0)


def heldout_reference(
    model: nn.Module, split: Split, pool: int, n: int
) -> tuple[float, float, int]:
    """Exact GC of the ``n`` training examples that follow the sampled pool in the fixed
    evaluation order (:func:`gcnc.study.pretraining.evaluation.eval_subset`), so disjoint from it;
    its standard error
    over examples and the number of examples used (fewer when the split is short)."""
    both = eval_subset(split, pool + n, balanced=False)
    x = both.x[pool:].to(model_device(model))
    if x.shape[0] < 2:
        raise ValueError(
            f"the GC sampling pool ({pool} examples) leaves {x.shape[0]} of the split's "
            f"{split.x.shape[0]} examples for the held-out reference; lower gc_sampling/"
            "eval_examples so that at least 2 remain"
        )
    per = per_example_gc(model.embed, x)
    return float(per.mean()), float(per.std() / math.sqrt(x.shape[0])), int(x.shape[0])


def sampling_study(model: nn.Module, split: Split, cfg: dict[str, Any]) -> pd.DataFrame:
    """Rows (axis, level, trial, estimate, exact, seconds, exact_seconds, n_probes, vjps, jvps,
    pool_examples, heldout, heldout_sem, heldout_examples), one per level and trial.

    ``exact`` is the exact GC of the sampled pool; ``heldout`` the exact GC of up to
    ``cfg['heldout_examples']`` (default 1000) disjoint training examples, ``heldout_sem`` its
    standard error. A level that keeps everything (all examples, all Jacobian entries, all
    features) is the exact GC itself, so its rows carry the exact value and cost, computed once
    (the forward-mode route to the same number would cost d JVPs: minutes on a CPU).
    """
    ev = eval_subset(split, cfg["eval_examples"], balanced=False)  # GC: classes do not matter
    x = ev.x.to(model_device(model))
    n, d = x.shape[0], math.prod(x.shape[1:])
    exact, exact_s = _timed(lambda: embedding_gc(model.embed, x))
    heldout, heldout_sem, n_heldout = heldout_reference(
        model, split, n, cfg.get("heldout_examples", HELDOUT_EXAMPLES)
    )
    with eval_mode(model.embed), torch.no_grad():
        p = model.embed(x[:1]).shape[1]
    axes: list[tuple[str, float, dict[str, Any]]] = []
    axes += [("examples", m, {"n_examples": int(m)}) for m in cfg["example_counts"]]
    axes += [("jacobian_entries", f, {"input_fraction": f}) for f in cfg["input_fractions"]]
    axes += [("features", f, {"feature_fraction": f}) for f in cfg["feature_fractions"]]
    axes += [
        ("hutchinson", f, {"estimator": "hutchinson", "n_probes": max(1, math.ceil(f * p))})
        for f in cfg["feature_fractions"]
    ]
    rows = []
    for axis, level, kwargs in axes:
        once = _deterministic(kwargs, n)
        vjps, jvps = _products(kwargs, n, p, d)
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
                    "vjps": vjps,
                    "jvps": jvps,
                    "pool_examples": n,
                    "heldout": heldout,
                    "heldout_sem": heldout_sem,
                    "heldout_examples": n_heldout,
                }
            )
    return pd.DataFrame(rows)
