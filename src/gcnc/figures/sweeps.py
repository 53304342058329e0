"""Hyper-parameter sweeps along training: the paper's Fig. 1 (GC, geometric collapse, NC; one
row per knob), its App. A.5 repeats on other datasets and architectures, App. A.5.6 (p. 22,
explicit GC regularisation) and the App. A.5 learning curves (test accuracy)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from gcnc.figures.common import (
    KNOB_LABEL,
    METRIC_LABEL,
    STRENGTH_NOTE,
    band_phrase,
    by_strength,
    finish,
    knob_rows,
    label_row,
    mean_sd_line,
    ok_rows,
    readable_log,
    save,
    setting_phrase,
    strength_colours,
    value_label,
)
from gcnc.records import read_table

SWEEP_METRICS = ("gc", "geometric_collapse", "nc")
LOG_METRICS = {"gc", "geometric_collapse", "nc"}


def _grid(data: pd.DataFrame, knobs: list[str], metrics: list[str]) -> plt.Figure:
    """Rows = knobs, columns = metrics; y shared down each column (one metric per column)."""
    fig, axes = plt.subplots(
        len(knobs),
        len(metrics),
        figsize=(3.2 * len(metrics) + 1.6, 2.5 * len(knobs) + 0.9),
        squeeze=False,
        sharex=True,
        sharey="col",
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
            ax.set_ylabel(METRIC_LABEL.get(metric, metric))
            if i == 0:
                ax.set_title(METRIC_LABEL.get(metric, metric), fontsize=9)
            if i == len(knobs) - 1:
                ax.set_xlabel("training step")
        axes[i, -1].legend(
            title=f"{KNOB_LABEL[knob]}\n(weak \u2192 strong)",
            loc="center left",
            bbox_to_anchor=(1.02, 0.5),
            fontsize=7,
            title_fontsize=7,
        )
        label_row(axes[i, 0], knob)
    for ax, metric in zip(axes[0], metrics, strict=True):
        if metric in LOG_METRICS:
            readable_log(ax)  # shared down the column: one call sets every row
    return fig


def render_sweep(
    plan: dict[str, Any],
    inputs: list[str],
    pdf: str,
    png: str,
    csv: str,
    metrics: tuple[str, ...] = SWEEP_METRICS,
    split: str = "train",
) -> None:
    """Fig. 1 (and App. A.5, A.5.6): each metric along training, mean +- 1 sd over seeds, one
    curve per knob value coloured by regularisation strength. ``inputs``: metrics.csv, runs.csv.
    """
    table = ok_rows(read_table(inputs[0]), read_table(inputs[1]))
    data = knob_rows(plan, table[table.split == split])
    seeds = data.groupby(["knob", "value"]).seed.nunique().tolist()
    fig = _grid(data, plan["knobs"], list(metrics))
    what = (
        "test accuracy along training"
        if metrics == ("accuracy",)
        else f"embedding GC, geometric collapse and NC on the {split} set along training"
    )
    finish(
        fig,
        f"{plan['paper']}: {what}",
        [
            setting_phrase(plan),
            band_phrase(seeds),
            STRENGTH_NOTE,
        ],
    )
    cols = ["knob", "value", "run_id", "seed", "step", *metrics]
    save(fig, pdf, png, data[cols], csv)


def render_learning_curves(
    plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str
) -> None:
    """App. A.5 learning curves: test accuracy along training for the runs of Fig. 1."""
    render_sweep(plan, inputs, pdf, png, csv, metrics=("accuracy",), split="test")
