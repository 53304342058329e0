"""The paper's Fig. 2: robustness of the empirical GC to sampling examples, Jacobian entries and
embedding features (plus Hutchinson probes), and what each estimate costs.

Top row, one panel per sampling axis: mean +- 1 sd over trials against the exact GC of the sampled
pool (dotted) and the held-out reference, the exact GC of disjoint training examples with its
standard error (dashed, band). Bottom row: root-mean-square relative error against the held-out
reference at each estimate's cost, in seconds and in Jacobian-vector products, all axes together
so that they compare at equal cost.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from gcnc.constants import JVP_COST
from gcnc.figures.common import finish, readable_log, save, setting_phrase, value_label
from gcnc.records import read_table

AXES = {  # sampling axis -> (panel title, x label)
    "examples": ("examples in the batch", "examples averaged"),
    "jacobian_entries": ("Jacobian entries (input coordinates)", "fraction of input coordinates"),
    "features": ("embedding features (Jacobian rows)", "fraction of embedding features"),
    "hutchinson": ("Hutchinson probes", "probes / embedding dimension"),
}
POOL_STYLE = {"color": "0.4", "ls": ":", "lw": 1.4}
HELDOUT_STYLE = {"color": "k", "ls": "--", "lw": 1.2}


def _error_vs_cost(data: pd.DataFrame) -> pd.DataFrame:
    """Per (axis, level): RMS relative error of the trials against the held-out reference, mean
    seconds and cost in VJP equivalents (a JVP counted as ``JVP_COST`` VJPs)."""
    rel = (data.estimate - data.heldout) / data.heldout
    out = (
        data.assign(sq=rel**2, cost=data.vjps + JVP_COST * data.jvps)
        .groupby(["axis", "level"], as_index=False)
        .agg(rms_rel_error=("sq", "mean"), seconds=("seconds", "mean"), cost=("cost", "first"))
    )
    out["rms_rel_error"] = np.sqrt(out["rms_rel_error"])
    return out


def _estimate_panel(ax: plt.Axes, sub: pd.DataFrame, axis: str, colour: Any) -> None:
    g = sub.groupby("level").estimate.agg(["mean", "std"]).sort_index()
    ax.plot(g.index, g["mean"], marker="o", ms=4, color=colour)
    ax.fill_between(g.index, g["mean"] - g["std"], g["mean"] + g["std"], color=colour, alpha=0.2)
    ref, sem = sub.heldout.iloc[0], sub.heldout_sem.iloc[0]
    ax.axhspan(ref - sem, ref + sem, color=HELDOUT_STYLE["color"], alpha=0.1, lw=0)
    ax.axhline(ref, **HELDOUT_STYLE)
    ax.axhline(sub.exact.iloc[0], **POOL_STYLE)
    ax.set_xscale("log")
    if axis == "examples":
        ax.set_xticks(g.index, [value_label("batch_size", v) for v in g.index])
        ax.minorticks_off()
    else:
        readable_log(ax, "x")
    ax.set_title(AXES[axis][0], fontsize=9)
    ax.set_xlabel(AXES[axis][1])
    ax.set_ylabel("GC estimate")


def render_gc_sampling(
    plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str
) -> None:
    """Fig. 2 from gc_sampling.csv (see :mod:`gcnc.gc_sampling` for its columns)."""
    data = read_table(inputs[0])
    axes_order = [a for a in AXES if a in set(data.axis)]
    colours = dict(zip(axes_order, sns.color_palette("colorblind"), strict=False))
    half = len(axes_order) // 2
    mosaic = [axes_order, ["seconds"] * half + ["cost"] * (len(axes_order) - half)]
    fig, ax = plt.subplot_mosaic(
        mosaic,
        figsize=(3.2 * len(axes_order), 6.6),
        constrained_layout=True,
        gridspec_kw={"height_ratios": [1, 1.1]},
    )
    for axis in axes_order:
        _estimate_panel(ax[axis], data[data.axis == axis], axis, colours[axis])
    cost = _error_vs_cost(data)
    floor = float((data.heldout_sem / data.heldout).iloc[0])
    for key, x, what, xlabel in (
        ("seconds", "seconds", "seconds", "seconds per estimate (mean over trials)"),
        (
            "cost",
            "cost",
            "Jacobian-vector products",
            f"Jacobian-vector products per estimate (VJPs; 1 JVP = {JVP_COST:g})",
        ),
    ):
        for axis in axes_order:
            g = cost[cost.axis == axis].sort_values("level")
            ax[key].plot(g[x], g.rms_rel_error, marker="o", ms=4, color=colours[axis])
        ax[key].axhline(floor, **HELDOUT_STYLE)
        ax[key].set_xscale("log")
        ax[key].set_yscale("log")
        readable_log(ax[key], "x")
        readable_log(ax[key], "y")
        ax[key].set_xlabel(xlabel)
        ax[key].set_ylabel(
            f"RMS relative error vs held-out GC\n(over {data.trial.nunique()} trials)"
        )
        ax[key].set_title(f"error against cost: {what}", fontsize=9)
    first = data.iloc[0]
    pool, held = int(first.pool_examples), int(first.heldout_examples)
    handles = [Line2D([], [], color=colours[a], marker="o", label=AXES[a][0]) for a in axes_order]
    handles += [
        Line2D([], [], **POOL_STYLE, label=f"exact GC of the sampled pool ({pool} examples)"),
        Line2D(
            [],
            [],
            **HELDOUT_STYLE,
            label=f"held-out reference: exact GC of {held} other training examples "
            "(top: \u00b11 s.e. band; bottom: its relative s.e.)",
        ),
        Patch(color=colours[axes_order[0]], alpha=0.2, label="\u00b11 sd over trials"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=7, frameon=False)
    run = plan["runs"][0]
    finish(
        fig,
        f"{plan['paper']}: GC estimates under sampling, and their cost",
        [
            setting_phrase(plan),
            f"one model: lr {run['lr']:g}, batch size {int(run['batch_size'])}, "
            f"L2 {run['weight_decay']:g}, seed {run['seed']}",
            f"bands: \u00b11 sd over {data.trial.nunique()} trials",
        ],
    )
    save(fig, pdf, png, data, csv)
