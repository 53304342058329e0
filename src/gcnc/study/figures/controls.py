"""The controlled experiments on Fig. 1: the end of its sweeps under each training protocol.

One row per end-of-training quantity (embedding GC, NC and geometric collapse on training
embeddings, training accuracy), one column per knob (learning rate, batch size, L2), one line per
training protocol (learning-rate schedule, :func:`gcnc.study.pretraining.schedule.learning_rate`;
budget in steps or epochs; learning rate coupled to the batch size; model options:
:func:`gcnc.study.plan.protocol_of`), mean +- 1 sd over seeds with each seed as a small mark; where
the preset logs it, NC with BatchNorm statistics recalibrated on the training set beside the plain
NC. The paper predicts GC, geometric collapse and NC to fall together as regularisation grows
(rightwards in every column: larger LR, smaller batch, larger L2).
"""

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
    band_phrase,
    by_strength,
    caption,
    change,
    finish,
    mean_sd_line,
    ok_rows,
    plan_setting,
    readable_log,
    save,
    value_label,
)
from gcnc.study.results.records import read_table

END_METRICS = ("gc", "nc", "geometric_collapse", "accuracy")
RECALIBRATED = "nc_bn_recalibrated"
END_LABEL = {**METRIC_LABEL, "accuracy": "training accuracy", "geometric_collapse": "GCol (Eq. 7)",
             RECALIBRATED: "NC, BN recalibrated"}  # fmt: skip
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
    data = last.merge(sweep, on="run_id")  # a run shared by two protocols is in each
    data["value"] = [row[row["knob"]] for _, row in data.iterrows()]
    return data


def _panel(ax, sub: pd.DataFrame, knob: str, metric: str, protocols: list[str]) -> None:
    """One knob against one quantity: the knob's values evenly spaced, weakest regularisation
    on the left (so L2 = 0 has a place too), one line per protocol (mean +- 1 sd over seeds)
    with each seed as a small mark."""
    order = by_strength(knob, sub.value)
    sub = sub.assign(position=sub.value.map({v: i for i, v in enumerate(order)}))
    for protocol, (colour, marker, dash) in zip(protocols, STYLES, strict=False):
        rows = sub[sub.protocol == protocol]
        if len(rows):
            mean_sd_line(ax, rows, "position", metric, colour, protocol, marker=marker, ls=dash)
            ax.scatter(rows.position, rows[metric], s=6, color=colour, marker=marker, alpha=0.4,
                       lw=0)  # fmt: skip
    ax.set_xticks(range(len(order)), [value_label(knob, v) for v in order])
    ax.set_xlim(-0.25, len(order) - 0.75)
    if metric != "accuracy":
        ax.set_yscale("log")


def protocol_legend(row: Any, protocols: list[str]) -> tuple[list[Any], list[str]]:
    """Legend handles and labels of every protocol drawn in any panel of ``row``, once each, in
    the plan's order (a protocol may sweep one knob only, so no one panel has them all)."""
    drawn: dict[str, Any] = {}
    for ax in row:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            drawn.setdefault(label, handle)
    labels = [p for p in protocols if p in drawn]
    return [drawn[p] for p in labels], labels


def controls_findings(data: pd.DataFrame, knobs: list[str], protocols: list[str]) -> str:
    """'Found at the last step (mean over seeds): NC fell with larger learning rate under 2 of
    3 protocols, ...'."""
    parts = []
    for knob in knobs:
        moves = {"gc": [], "nc": []}
        for protocol in protocols:
            sub = data[(data.knob == knob) & (data.protocol == protocol)]
            order = by_strength(knob, sub.value)
            if len(order) < 2:
                continue
            for metric in moves:
                means = sub.groupby("value")[metric].mean().reindex(order)
                moves[metric].append(change(means).startswith("fell"))
        if moves["nc"]:
            counts = [
                f"{METRIC_SHORT[m]} fell under {sum(v)} of {len(v)} protocols"
                for m, v in moves.items()
            ]
            parts.append(f"with {KNOB_STRONGER[knob]}, " + " and ".join(counts))
    return "Found at the last step (mean over seeds): " + "; ".join(parts) if parts else ""


def render_controls(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> str:
    """Fig. 1's sweeps at the end of training, one line per training protocol: one row per
    quantity, one column per knob, the protocols' legend below. ``inputs``: metrics.csv,
    runs.csv. Returns the caption."""
    data = end_rows(plan, ok_rows(read_table(inputs[0]), read_table(inputs[1])))
    knobs = [k for k in plan["knobs"] if k in set(data.knob)]
    logged = RECALIBRATED in data and data[RECALIBRATED].notna().any()
    metrics = (*END_METRICS[:2], RECALIBRATED, *END_METRICS[2:]) if logged else END_METRICS
    fig, axes = plt.subplots(
        len(metrics),
        len(knobs),
        figsize=(FULL_WIDTH, 1.3 * len(metrics) + 1.0),
        squeeze=False,
        sharex="col",
        sharey="row",
        constrained_layout=True,
    )
    for i, metric in enumerate(metrics):
        for j, knob in enumerate(knobs):
            _panel(axes[i, j], data[data.knob == knob], knob, metric, plan["protocols"])
            if i == len(metrics) - 1:
                axes[i, j].set_xlabel(f"{KNOB_LABEL[knob]} (stronger \u2192)")
        axes[i, 0].set_ylabel(END_LABEL[metric])
        if metric != "accuracy":
            readable_log(axes[i, 0])  # shared along the row
    handles, labels = protocol_legend(axes[0], plan["protocols"])
    fig.legend(handles, labels, title="training protocol", loc="outside lower center", ncol=2,
               frameon=False)  # fmt: skip
    seeds = data.groupby(["protocol", "knob", "value"]).seed.nunique().tolist()
    finish(fig, f"Fig. 1's sweeps at the last step, per training protocol ({plan_setting(plan)})")
    cols = ["protocol", "knob", "value", "run_id", "seed", "step", *metrics]
    save(fig, pdf, png, data[cols], csv)
    return caption(
        plan,
        band_phrase(seeds) + "; small marks: seeds",
        controls_findings(data, knobs, plan["protocols"]),
    )
