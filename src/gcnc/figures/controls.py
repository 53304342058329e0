"""The controlled experiments on Fig. 1: the end of its sweeps under each training protocol.

One row per knob (learning rate, batch size, L2), one column per end-of-training quantity
(embedding GC, NC and geometric collapse on training embeddings, training accuracy), one line
per training protocol (learning-rate schedule, :func:`gcnc.training.learning_rate`; steps; model
options; :func:`gcnc.figures.plan.protocol_label`), mean +- 1 sd over seeds. The paper predicts
GC, geometric collapse and NC to fall together as regularisation grows (rightwards on every row:
larger LR, smaller batch, larger L2).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from gcnc.figures.common import (
    KNOB_DIRECTION,
    KNOB_LABEL,
    METRIC_LABEL,
    band_phrase,
    by_strength,
    finish,
    label_row,
    mean_sd_line,
    ok_rows,
    readable_log,
    save,
    setting_phrase,
    value_label,
)
from gcnc.records import read_table

END_METRICS = ("gc", "nc", "geometric_collapse", "accuracy")
END_LABEL = {**METRIC_LABEL, "accuracy": "training accuracy", "geometric_collapse": "GCol (Eq. 7)"}
# colour-blind-safe (Okabe-Ito), each with its own marker and dash so that grey print still reads
STYLES = [
    ("#0072B2", "o", "-"),
    ("#E69F00", "s", "-"),
    ("#009E73", "^", "-"),
    ("#CC79A7", "D", "--"),
    ("#D55E00", "v", ":"),
    ("#56B4E9", "P", "-."),
    ("#000000", "X", "--"),
]


def end_rows(plan: dict[str, Any], metrics: pd.DataFrame) -> pd.DataFrame:
    """The last logged training-set row of every run on a sweep row of the plan, tagged with
    its ``knob``, ``value`` and ``protocol``."""
    train = metrics[metrics.split == "train"]
    last = train[train.step == train.groupby("run_id").step.transform("max")]
    sweep = pd.DataFrame(plan["sweep"], columns=["run_id", "knob", "protocol"])
    data = last.merge(sweep, on="run_id")
    data["value"] = [row[row["knob"]] for _, row in data.iterrows()]
    return data


def _panel(ax, sub: pd.DataFrame, knob: str, metric: str, protocols: list[str]) -> None:
    """One knob against one quantity: the knob's values evenly spaced, weakest regularisation
    on the left (so L2 = 0 has a place too), one line per protocol."""
    order = by_strength(knob, sub.value)
    sub = sub.assign(position=sub.value.map({v: i for i, v in enumerate(order)}))
    for protocol, (colour, marker, dash) in zip(protocols, STYLES, strict=False):
        rows = sub[sub.protocol == protocol]
        if len(rows):
            mean_sd_line(ax, rows, "position", metric, colour, protocol, marker=marker, ls=dash)
    ax.set_xticks(range(len(order)), [value_label(knob, v) for v in order])
    ax.set_xlim(-0.25, len(order) - 0.75)
    if metric != "accuracy":
        ax.set_yscale("log")
    ax.set_xlabel(f"{KNOB_LABEL[knob]} ({KNOB_DIRECTION[knob]} \u2192)", fontsize=8)


def render_controls(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str):
    """Fig. 1's sweeps at the end of training, one line per training protocol. ``inputs``:
    metrics.csv, runs.csv."""
    data = end_rows(plan, ok_rows(read_table(inputs[0]), read_table(inputs[1])))
    knobs = [k for k in plan["knobs"] if k in set(data.knob)]
    fig, axes = plt.subplots(
        len(knobs),
        len(END_METRICS),
        figsize=(3.0 * len(END_METRICS) + 2.4, 2.5 * len(knobs) + 0.9),
        squeeze=False,
        sharey="col",
        constrained_layout=True,
    )
    for i, knob in enumerate(knobs):
        sub = data[data.knob == knob]
        for j, metric in enumerate(END_METRICS):
            _panel(axes[i, j], sub, knob, metric, plan["protocols"])
            if i == 0:
                axes[i, j].set_title(f"{END_LABEL[metric]} at the end", fontsize=9)
        axes[i, -1].legend(
            title="training protocol", loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=7
        )
        label_row(axes[i, 0], knob)
    for ax, metric in zip(axes[0], END_METRICS, strict=True):
        if metric != "accuracy":
            readable_log(ax)
    seeds = data.groupby(["protocol", "knob", "value"]).seed.nunique().tolist()
    finish(
        fig,
        f"{plan['paper']}: the end of Fig. 1's sweeps under each training protocol",
        [
            setting_phrase(plan),
            "GC, NC and GCol on training embeddings at the last step",
            band_phrase(seeds),
            "the paper predicts GC, GCol and NC all falling to the right",
        ],
    )
    cols = ["protocol", "knob", "value", "run_id", "seed", "step", *END_METRICS]
    save(fig, pdf, png, data[cols], csv)
