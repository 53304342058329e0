"""Transfer learning: the paper's Fig. 4 (source GC, target-class NC and few-shot accuracy per
hyper-parameter value) and its App. A.5.5 repeats on other source/target settings.

Every panel shows each seed (small marks) and the mean over seeds with +-1 sd over seeds (large
marks and bars): seeds differ far more than the episodes of one seed's few-shot estimate, so an
interval over episodes would understate the spread (the episodes' 95% CI of each seed stays in the
CSV)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from gcnc.study.figures.common import (
    FULL_WIDTH,
    KNOB_LABEL,
    KNOB_STRONGER,
    band_phrase,
    by_strength,
    caption,
    change,
    finish,
    knob_rows,
    plan_setting,
    readable_log,
    save,
    short_number,
    strength_colours,
    value_label,
)
from gcnc.study.results.records import read_table

PANELS = {
    "source_gc": "source (pretraining) GC",
    "target_nc": "target NC",
    "accuracy": "few-shot accuracy",
}
CLASSIFIER_STYLE = {  # neutral colours: hue is reserved for regularisation strength
    "logreg": {"color": "0.15", "marker": "o", "ls": "-", "label": "logistic regression"},
    "ncm": {"color": "0.55", "marker": "s", "ls": "--", "label": "nearest class mean"},
}
CLASSIFIER_SHIFT = {"logreg": -0.12, "ncm": 0.12}  # side by side at each knob value
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


def _seeds_and_mean(
    ax: plt.Axes,
    xs: np.ndarray,
    order: list[Any],
    rows: pd.DataFrame,
    col: str,
    side: float,
    colours: dict[Any, Any],
    **style: Any,
) -> None:
    """At each knob value: every seed as a hollow mark beside (``side``) the mean over seeds,
    drawn with +-1 sd over seeds; the means joined by a line."""
    g = rows.groupby("value")[col].agg(["mean", "std"]).reindex(order)
    marker = style.pop("marker", "o")
    for x, value in zip(xs, order, strict=True):
        seeds = rows.loc[rows.value == value, col]
        ax.scatter(np.full(len(seeds), x + side), seeds, s=10, marker=marker,
                   facecolors="none", edgecolors=[colours[value]], lw=0.7, zorder=2)  # fmt: skip
        ax.errorbar(x, g.loc[value, "mean"], yerr=np.nan_to_num(g.loc[value, "std"]), fmt=marker,
                    ms=4.5, capsize=2, color=colours[value], zorder=3)  # fmt: skip
    ax.plot(xs, g["mean"], zorder=1, **style)


def _metric_panel(ax: plt.Axes, sub: pd.DataFrame, col: str, knob: str) -> None:
    """Each seed and the mean +- 1 sd over seeds of a per-run quantity at each knob value,
    weak to strong regularisation."""
    order = by_strength(knob, sub.value)
    runs = sub.drop_duplicates("run_id")
    xs = np.arange(len(order), dtype=float)
    _seeds_and_mean(ax, xs, order, runs, col, -0.14, strength_colours(knob, order),
                    color="0.6", lw=1)  # fmt: skip
    ax.set_yscale("log")


def _accuracy_panel(ax: plt.Axes, sub: pd.DataFrame, knob: str) -> None:
    """Few-shot accuracy per classifier, side by side: each seed's (a mean over episodes) and
    the mean +- 1 sd over seeds."""
    order = by_strength(knob, sub.value)
    for clf, rows in sub.groupby("classifier"):
        style = dict(CLASSIFIER_STYLE.get(clf, {"label": clf, "color": "0.4"}))
        shift = CLASSIFIER_SHIFT.get(clf, 0.0)
        colour = style["color"]
        xs = np.arange(len(order)) + shift
        _seeds_and_mean(ax, xs, order, rows, "accuracy", np.sign(shift) * 0.1,
                        dict.fromkeys(order, colour), **style)  # fmt: skip


def transfer_findings(data: pd.DataFrame, knobs: list[str], shot: int, way: int) -> str:
    """'Found (mean over seeds): with larger learning rate, source GC fell (..), target NC rose
    (..), 5-way 5-shot accuracy of the nearest-class-mean classifier rose (..); ...' and the
    widest spread of accuracy over seeds at one setting."""
    clf = "ncm" if "ncm" in set(data.classifier) else data.classifier.iloc[0]
    parts = []
    for knob in knobs:
        sub = data[data.knob == knob]
        order = by_strength(knob, sub.value)
        if len(order) < 2:
            continue
        runs = sub.drop_duplicates("run_id").groupby("value")[["source_gc", "target_nc"]]
        means = runs.mean().reindex(order)
        acc = sub[sub.classifier == clf].groupby("value").accuracy.mean().reindex(order)
        parts.append(
            f"with {KNOB_STRONGER[knob]}, source GC {change(means.source_gc)}, target NC "
            f"{change(means.target_nc)}, accuracy {change(acc)}"
        )
    if not parts:
        return ""
    spread = data.groupby(["knob", "value", "classifier"]).accuracy.agg(lambda a: a.max() - a.min())
    name = CLASSIFIER_STYLE.get(clf, {"label": clf})["label"]
    text = f"Found (mean over seeds; accuracy: {way}-way {shot}-shot, {name}): " + "; ".join(parts)
    if data.seed.nunique() > 1:
        text += (
            f". Seeds at one setting differ in accuracy by up to {short_number(spread.max())}"
            f" (median {short_number(spread.median())})"
        )
    return text


def render_transfer(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> str:
    """Fig. 4 from fewshot.csv: rows = knobs, x = knob value from weak to strong regularisation,
    y shared down each column. Returns the caption."""
    table = read_table(inputs[0])
    data = knob_rows(plan, table[table.status == "ok"])
    shots = sorted(data["shot"].unique())
    shot = 5 if 5 in shots else shots[-1]
    way = int(data["way"].iloc[0])
    knobs = plan["knobs"]
    fig, axes = plt.subplots(
        len(knobs),
        3,
        figsize=(FULL_WIDTH, 1.8 * len(knobs) + 0.9),
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
            else:
                _metric_panel(ax, sub, col, knob)
            ax.set_xticks(range(len(order)), [value_label(knob, v) for v in order])
            ax.set_xlim(-0.5, len(order) - 0.5)
            ax.set_xlabel(KNOB_LABEL[knob])
            if i == 0:
                title = f"{way}-way {shot}-shot accuracy" if col == "accuracy" else PANELS[col]
                ax.set_title(title)
    for ax in axes[0, :2]:
        readable_log(ax)  # shared down the column
    handles = [
        Line2D([], [], **{k: v for k, v in style.items()}, ms=4)
        for clf, style in CLASSIFIER_STYLE.items()
        if clf in set(data.classifier)
    ]
    handles += [
        Line2D([], [], ls="", marker="o", ms=3.5, mfc="none", color="0.4", label="one seed"),
        Line2D([], [], marker="o", ms=4.5, color="0.4", label="mean \u00b1 1 sd over seeds"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    used = data[data["shot"] == shot]
    seeds = used.groupby(["knob", "value"]).seed.nunique().tolist()
    episodes = sorted(used.episodes.unique()) if "episodes" in used else []
    finish(
        fig,
        f"Transfer: source GC, target NC and few-shot accuracy ({plan_setting(plan)})",
    )
    save(fig, pdf, png, used[KEEP], csv)
    return caption(
        plan,
        band_phrase(seeds, "bars")
        + (f"; each seed's accuracy is a mean over {episodes[-1]} episodes" if episodes else ""),
        transfer_findings(used, knobs, shot, way),
    )
