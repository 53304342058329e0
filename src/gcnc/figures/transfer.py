"""Transfer learning: the paper's Fig. 4 (source GC, target-class NC and few-shot accuracy per
hyper-parameter value) and its App. A.5.5 repeats on other source/target settings."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from gcnc.figures.common import (
    KNOB_LABEL,
    STRENGTH_NOTE,
    band_phrase,
    by_strength,
    finish,
    knob_rows,
    label_row,
    readable_log,
    save,
    setting_phrase,
    strength_colours,
    value_label,
)
from gcnc.records import read_table

PANELS = {
    "source_gc": "source (pretraining) GC",
    "target_nc": "target NC",
    "accuracy": "few-shot accuracy",
}
CLASSIFIER_STYLE = {  # neutral colours: hue is reserved for regularisation strength
    "logreg": {"color": "0.15", "marker": "o", "ls": "-", "label": "logistic regression"},
    "ncm": {"color": "0.55", "marker": "s", "ls": "--", "label": "nearest class mean"},
}
KEEP = [
    "knob",
    "value",
    "run_id",
    "seed",
    "way",
    "shot",
    "classifier",
    "source_gc",
    "target_nc",
    "target_geometric_collapse",
    "accuracy",
    "ci95",
]


def _metric_panel(ax: plt.Axes, sub: pd.DataFrame, col: str, knob: str) -> None:
    """Mean +- 1 sd over seeds of a per-run quantity at each knob value, weak to strong."""
    order = by_strength(knob, sub.value)
    colours = strength_colours(knob, order)
    g = sub.drop_duplicates("run_id").groupby("value")[col].agg(["mean", "std"])
    g = g.reindex(order)
    xs = range(len(order))
    ax.plot(xs, g["mean"], color="0.6", lw=1, zorder=1)
    for x, value in zip(xs, order, strict=True):
        ax.errorbar(
            x,
            g.loc[value, "mean"],
            yerr=g.loc[value, "std"],
            fmt="o",
            ms=7,
            capsize=3,
            color=colours[value],
            zorder=2,
        )
    ax.set_yscale("log")


def _accuracy_panel(ax: plt.Axes, sub: pd.DataFrame, knob: str) -> None:
    """Few-shot accuracy per classifier (mean over seeds) with the episodes' 95% CI."""
    order = by_strength(knob, sub.value)
    for clf, g in sub.groupby("classifier"):
        g = g.groupby("value").agg(accuracy=("accuracy", "mean"), ci95=("ci95", "mean"))
        g = g.reindex(order)
        style = CLASSIFIER_STYLE.get(clf, {"label": clf})
        ax.errorbar(range(len(order)), g.accuracy, yerr=g.ci95, capsize=3, ms=4, **style)


def render_transfer(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> None:
    """Fig. 4 from fewshot.csv: rows = knobs, x = knob value from weak to strong regularisation,
    y shared down each column."""
    table = read_table(inputs[0])
    data = knob_rows(plan, table[table.status == "ok"])
    shots = sorted(data["shot"].unique())
    shot = 5 if 5 in shots else shots[-1]
    way = int(data["way"].iloc[0])
    knobs = plan["knobs"]
    fig, axes = plt.subplots(
        len(knobs),
        3,
        figsize=(11.5, 2.6 * len(knobs) + 1.0),
        squeeze=False,
        sharey="col",
        constrained_layout=True,
    )
    for i, knob in enumerate(knobs):
        sub = data[(data.knob == knob) & (data["shot"] == shot)]
        order = by_strength(knob, sub.value)
        for j, col in enumerate(PANELS):
            ax = axes[i, j]
            if col == "accuracy":
                _accuracy_panel(ax, sub, knob)
                ax.set_ylabel(f"{way}-way {shot}-shot accuracy")
            else:
                _metric_panel(ax, sub, col, knob)
                ax.set_ylabel(PANELS[col])
            ax.set_xticks(range(len(order)), [value_label(knob, v) for v in order])
            ax.set_xlim(-0.4, len(order) - 0.6)
            ax.set_xlabel(f"{KNOB_LABEL[knob]} (weak \u2192 strong regularisation)")
            if i == 0:
                ax.set_title(PANELS[col], fontsize=9)
        label_row(axes[i, 0], knob)
    for ax in axes[0, :2]:
        readable_log(ax)  # shared down the column
    handles, labels = axes[0, 2].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=7)
    used = data[data["shot"] == shot]
    seeds = used.groupby(["knob", "value"]).seed.nunique().tolist()
    episodes = sorted(used.episodes.unique()) if "episodes" in used else []
    finish(
        fig,
        f"{plan['paper']}: source GC, target NC and few-shot accuracy after pretraining",
        [
            setting_phrase(plan) + " (pretraining on the source classes)",
            f"target: {way}-way {shot}-shot on held-out classes"
            + (f", {episodes[-1]} episodes" if episodes else ""),
            band_phrase(seeds, "GC/NC bars"),
            "accuracy bars: 95% CI over episodes"
            + (f" (mean over {max(seeds)} seeds)" if max(seeds, default=1) > 1 else ""),
            STRENGTH_NOTE,
        ],
    )
    save(fig, pdf, png, used[KEEP], csv)
