"""The paper's Fig. 2: robustness of the empirical GC to sampling examples, Jacobian entries and
embedding features (plus Hutchinson probes), and what each estimate costs.

Top, one panel per sampling axis (two per row, on one shared y-range so that their spreads
compare): mean +- 1 sd over trials against the exact GC of the sampled pool (dotted) and the
held-out reference, the exact GC of disjoint training examples with its standard error (dashed,
band). Bottom row: root-mean-square relative error against the held-out reference at each
estimate's cost, in seconds and in Jacobian-vector products, all axes together so that they
compare at equal cost.
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
from gcnc.study.figures.common import (
    FULL_WIDTH,
    caption,
    finish,
    plan_setting,
    readable_log,
    save,
    value_label,
)
from gcnc.study.results.records import read_table

AXES = {  # sampling axis -> (panel title, x label, a level as printed in a finding)
    "examples": ("examples in the batch", "examples averaged", lambda v: f"{v:g} examples"),
    "jacobian_entries": (
        "Jacobian entries (input coordinates)",
        "fraction of input coordinates",
        lambda v: "all inputs" if v == 1 else f"{v:.3g} of the inputs",
    ),
    "features": (
        "embedding features (Jacobian rows)",
        "fraction of embedding features",
        lambda v: "all features" if v == 1 else f"{v:.3g} of the features",
    ),
    "hutchinson": (
        "Hutchinson probes",
        "probes / embedding dimension",
        lambda v: f"{v:.3g} probe{'' if v == 1 else 's'} per dimension",
    ),
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
    ax.plot(g.index, g["mean"], marker="o", ms=3.5, color=colour)
    ax.fill_between(g.index, g["mean"] - g["std"], g["mean"] + g["std"], color=colour, alpha=0.2)
    ref, sem = sub.heldout.iloc[0], sub.heldout_sem.iloc[0]
    ax.axhspan(ref - sem, ref + sem, color=HELDOUT_STYLE["color"], alpha=0.1, lw=0)
    ax.axhline(ref, **HELDOUT_STYLE)
    ax.axhline(sub.exact.iloc[0], **POOL_STYLE)
    ax.set_xscale("log")
    if axis == "examples":
        ax.set_xticks(g.index, [value_label("batch_size", v) for v in g.index])
        ax.minorticks_off()
    elif len(g) <= 6:  # a tick at each level sampled
        ax.set_xticks(g.index, [f"{v:g}" for v in g.index])
        ax.minorticks_off()
    else:
        readable_log(ax, "x")
    ax.set_title(AXES[axis][0])
    ax.set_xlabel(AXES[axis][1])
    ax.set_ylabel("GC estimate")


def sampling_findings(cost: pd.DataFrame, floor: float) -> str:
    """'Found: RMS relative error against the held-out GC 7% at 10 examples, 0.6% at 300; ...'."""
    parts = []
    for axis in [a for a in AXES if a in set(cost.axis)]:
        g = cost[cost.axis == axis].sort_values("level")
        fmt = AXES[axis][2]
        lo, hi = g.iloc[0], g.iloc[-1]
        parts.append(
            f"{AXES[axis][0]}: {lo.rms_rel_error:.1%} at {fmt(lo.level)}, "
            f"{hi.rms_rel_error:.1%} at {fmt(hi.level)}"
        )
    return (
        "Found: RMS relative error against the held-out GC, from the fewest to the most "
        "samples, "
        + "; ".join(parts)
        + f"; the held-out reference's own relative standard error is {floor:.1%}"
    )


def render_gc_sampling(
    plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str
) -> str:
    """Fig. 2 from gc_sampling.csv (see :mod:`gcnc.study.theory.gc_sampling` for its columns).
    Returns the
    caption."""
    data = read_table(inputs[0])
    axes_order = [a for a in AXES if a in set(data.axis)]
    colours = dict(zip(axes_order, sns.color_palette("colorblind"), strict=False))
    rows = [axes_order[i : i + 2] for i in range(0, len(axes_order), 2)]
    mosaic = [r + r[-1:] * (2 - len(r)) for r in rows] + [["seconds", "cost"]]
    fig, ax = plt.subplot_mosaic(
        mosaic,
        figsize=(FULL_WIDTH, 2.0 * len(mosaic) + 1.1),
        constrained_layout=True,
    )
    for axis in axes_order:
        _estimate_panel(ax[axis], data[data.axis == axis], axis, colours[axis])
        if axis != axes_order[0]:
            ax[axis].sharey(ax[axes_order[0]])  # one y-range: the spreads compare
        if axes_order.index(axis) % 2:
            ax[axis].set_ylabel("")  # the left panel of the row names it
    lows, highs = zip(*(ax[a].get_ylim() for a in axes_order), strict=True)
    ax[axes_order[0]].set_ylim(min(lows), max(highs))
    cost = _error_vs_cost(data)
    floor = float((data.heldout_sem / data.heldout).iloc[0])
    for key, x, what, xlabel in (
        ("seconds", "seconds", "seconds", "seconds per estimate (mean over trials)"),
        (
            "cost",
            "cost",
            "Jacobian-vector products",
            f"VJPs per estimate (1 JVP = {JVP_COST:g} VJPs)",
        ),
    ):
        for axis in axes_order:
            g = cost[cost.axis == axis].sort_values("level")
            ax[key].plot(g[x], g.rms_rel_error, marker="o", ms=3.5, color=colours[axis])
        ax[key].axhline(floor, **HELDOUT_STYLE)
        ax[key].set_xscale("log")
        ax[key].set_yscale("log")
        readable_log(ax[key], "x")
        ax[key].set_xlabel(xlabel)
        ax[key].set_title(f"error against cost: {what}")
    ax["cost"].sharey(ax["seconds"])
    readable_log(ax["seconds"], "y")
    ax["seconds"].set_ylabel(f"RMS relative error\nvs held-out GC ({data.trial.nunique()} trials)")
    first = data.iloc[0]
    pool, held = int(first.pool_examples), int(first.heldout_examples)
    handles = [Line2D([], [], color=colours[a], marker="o", label=AXES[a][0]) for a in axes_order]
    handles += [
        Line2D([], [], **POOL_STYLE, label=f"exact GC of the sampled pool ({pool:,} examples)"),
        Line2D(
            [],
            [],
            **HELDOUT_STYLE,
            label=f"held-out reference: exact GC of {held:,} other training examples "
            "(\u00b11 s.e.)",
        ),
        Patch(color=colours[axes_order[0]], alpha=0.2, label="\u00b11 sd over trials"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    run = plan["runs"][0]
    finish(fig, f"GC estimates under sampling, and their cost ({plan_setting(plan)})")
    save(fig, pdf, png, data, csv)
    return caption(
        plan,
        f"The model: learning rate {run['lr']:g}, batch size {int(run['batch_size'])}, "
        f"L2 {run['weight_decay']:g}, seed {run['seed']}",
        f"Bands: \u00b11 sd over {data.trial.nunique()} trials; the dashed line in the bottom "
        "panels is the held-out reference's relative standard error",
        sampling_findings(cost, floor),
    )
