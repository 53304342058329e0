"""Hyper-parameter sweeps along training: the paper's Fig. 1 (GC, geometric collapse, NC; one
row per knob), its App. A.5 repeats on other datasets and architectures, App. A.5.6 (p. 22,
explicit GC regularisation) and the App. A.5 learning curves (training and test accuracy).

Curves start at the first log after initialisation (:func:`gcnc.study.figures.common.after_init`);
each row's legend names its knob and lists its values from weak to strong regularisation."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from gcnc.study.figures.common import (
    FULL_WIDTH,
    KNOB_LABEL,
    KNOB_STRONGER,
    METRIC_LABEL,
    METRIC_SHORT,
    after_init,
    band_phrase,
    by_strength,
    caption,
    change,
    finish,
    knob_rows,
    mean_sd_line,
    ok_rows,
    plan_setting,
    readable_log,
    save,
    step_ticks,
    strength_colours,
    value_label,
)
from gcnc.study.results.records import read_table

SWEEP_METRICS = ("gc", "geometric_collapse", "nc")
LOG_METRICS = {"gc", "geometric_collapse", "nc"}
ACCURACY = ("train_accuracy", "test_accuracy")


def _grid(data: pd.DataFrame, knobs: list[str], metrics: list[str]) -> plt.Figure:
    """Rows = knobs, columns = metrics (named above the top row); y shared down each column
    (one metric per column), or across the figure when every column is an accuracy."""
    accuracy_only = all(m in ACCURACY for m in metrics)
    fig, axes = plt.subplots(
        len(knobs),
        len(metrics),
        figsize=(FULL_WIDTH, 1.75 * len(knobs) + 0.55),
        squeeze=False,
        sharex=True,
        sharey=True if accuracy_only else "col",
        constrained_layout=True,
    )
    for i, knob in enumerate(knobs):
        sub = data[data.knob == knob]
        colours = strength_colours(knob, sub.value)
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            for value in by_strength(knob, sub.value):
                rows = sub[sub.value == value]
                mean_sd_line(ax, rows, "step", metric, colours[value], value_label(knob, value))
            if metric in LOG_METRICS:
                ax.set_yscale("log")
            if i == 0:
                ax.set_title(METRIC_LABEL.get(metric, metric))
            if i == len(knobs) - 1:
                ax.set_xlabel("training step")
        axes[i, -1].legend(
            title=f"{KNOB_LABEL[knob]}\n(weak \u2192 strong)",
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            frameon=False,
        )
    for ax, metric in zip(axes[0], metrics, strict=True):
        if metric in LOG_METRICS:
            readable_log(ax)  # shared down the column: one call sets every row
    step_ticks(axes[0, 0], data.step)
    return fig


def last_step(data: pd.DataFrame) -> pd.DataFrame:
    """Each run's rows at its last logged step."""
    return data[data.step == data.groupby("run_id").step.transform("max")]


def sweep_findings(data: pd.DataFrame, knobs: list[str], metrics: list[str]) -> str:
    """'Found at the last logged step (mean over seeds): with larger learning rate, GC fell
    (43 -> 24), NC rose (0.057 -> 0.098); ...'."""
    end = last_step(data)
    parts = []
    for knob in knobs:
        sub = end[end.knob == knob]
        order = by_strength(knob, sub.value)
        if len(order) < 2:
            continue
        means = sub.groupby("value")[metrics].mean().reindex(order)
        moves = [f"{METRIC_SHORT.get(m, METRIC_LABEL.get(m, m))} {change(means[m])}"
                 for m in metrics]  # fmt: skip
        parts.append(f"with {KNOB_STRONGER[knob]}, " + ", ".join(moves))
    if not parts:
        return ""
    return "Found at the last logged step (mean over seeds): " + "; ".join(parts)


def render_sweep(
    plan: dict[str, Any],
    inputs: list[str],
    pdf: str,
    png: str,
    csv: str,
    metrics: tuple[str, ...] = SWEEP_METRICS,
    split: str = "train",
) -> str:
    """Fig. 1 (and App. A.5, A.5.6): each metric along training after initialisation, mean +- 1
    sd over seeds, one curve per knob value coloured by regularisation strength. ``inputs``:
    metrics.csv, runs.csv. Returns the caption."""
    table = ok_rows(read_table(inputs[0]), read_table(inputs[1]))
    data = after_init(knob_rows(plan, table[table.split == split]))
    seeds = data.groupby(["knob", "value"]).seed.nunique().tolist()
    fig = _grid(data, plan["knobs"], list(metrics))
    what = (
        "Explicit GC penalty along training"
        if plan["knobs"] == ["gc_reg"]
        else "GC, geometric collapse and NC along training"
    )
    finish(fig, f"{what} ({plan_setting(plan)})")
    cols = ["knob", "value", "run_id", "seed", "step", *metrics]
    save(fig, pdf, png, data[cols], csv)
    return caption(plan, band_phrase(seeds), sweep_findings(data, plan["knobs"], list(metrics)))


def render_learning_curves(
    plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str
) -> str:
    """App. A.5 learning curves: training and test accuracy along training (after
    initialisation) for the runs of Fig. 1, side by side on one y-range."""
    table = ok_rows(read_table(inputs[0]), read_table(inputs[1]))
    keys = ["run_id", "seed", "step", *plan["knobs"]]
    wide = (
        table[table.split.isin(["train", "test"])]
        .pivot_table(index=keys, columns="split", values="accuracy")
        .rename(columns={"train": "train_accuracy", "test": "test_accuracy"})
        .reset_index()
        .reindex(columns=[*keys, *ACCURACY])
    )
    data = after_init(knob_rows(plan, wide))
    seeds = data.groupby(["knob", "value"]).seed.nunique().tolist()
    fig = _grid(data, plan["knobs"], list(ACCURACY))
    finish(fig, f"Training and test accuracy along training ({plan_setting(plan)})")
    cols = ["knob", "value", "run_id", "seed", "step", *ACCURACY]
    save(fig, pdf, png, data[cols], csv)
    return caption(plan, band_phrase(seeds), sweep_findings(data, plan["knobs"], list(ACCURACY)))
