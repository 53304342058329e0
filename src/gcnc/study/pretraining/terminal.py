"""Has training reached the terminal phase? Per-run diagnostics at the end of pretraining.

The paper's claims are about the *terminal phase of training* (Papyan et al. 2020): training
accuracy at 1 and NC still falling. Whether a run gets there depends on its step budget and
learning-rate schedule (:func:`gcnc.study.pretraining.schedule.learning_rate`), so each run's end
state is tabled
next to its knobs: the rate of its last SGD step, training-set accuracy and loss (on the fixed
evaluation subset, eval mode), NC and GC at the last logged step, and how much NC still moved
over the last logging interval (``nc_last_ratio`` = NC at the last log / NC at the one before;
1 means NC has stopped falling). NC is measured on training embeddings, as in the paper.
Geometric collapse (Eq. 7) and ``inv_dist_sum`` (the sum over class pairs of 1 / ||mu_i - mu_j||^2)
show how much of a change in GC is a change of the embedding's scale: GC grows with the square
of the scale, the inverse distances shrink with it, and NC and geometric collapse do not move.
"""

from __future__ import annotations

import pandas as pd

from gcnc.study.plan import with_group

KNOB_COLUMNS = ["lr", "lr_schedule", "batch_size", "weight_decay", "gc_reg", "seed"]
SETTING = ["group", "lr", "batch_size", "weight_decay", "gc_reg"]  # a run but for its seed
TERMINAL_ACCURACY = 0.99  # "training accuracy at 1" on a finite evaluation subset


def terminal_phase(metrics: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """One row per run of ``metrics`` (metrics.csv) known to ``plan`` (plan.csv): its group and
    knobs, ``final_lr``, ``train_accuracy``, ``train_loss``, ``nc``, ``gc``, ``nc_last_ratio``,
    ``test_accuracy``, ``terminal`` (train accuracy >= 0.99 at the end), ``terminal_step`` and
    ``nc_at_terminal_step`` (the first logged step after initialisation at train accuracy >= 0.99,
    the matched state the claims also read; NaN for a run that never got there) and, where
    logged, ``nc_bn_recalibrated``; sorted by group and knobs."""
    train = metrics[metrics.split == "train"].sort_values(["run_id", "step"])
    test = metrics[metrics.split == "test"].sort_values(["run_id", "step"])
    last = train.groupby("run_id").tail(1).set_index("run_id")
    previous = train.groupby("run_id").nth(-2).set_index("run_id")
    table = last[KNOB_COLUMNS + ["step"]].assign(
        final_lr=last.step_lr,
        train_accuracy=last.accuracy,
        train_loss=last.loss,
        nc=last.nc,
        gc=last.gc,
        geometric_collapse=last.geometric_collapse,
        inv_dist_sum=last.inv_dist_sum,
        nc_last_ratio=last.nc / previous.nc.reindex(last.index),
        test_accuracy=test.groupby("run_id").tail(1).set_index("run_id").accuracy,
    )
    table["terminal"] = table.train_accuracy >= TERMINAL_ACCURACY
    after = train[train.step > train.groupby("run_id").step.transform("min")]
    first = after[after.accuracy >= TERMINAL_ACCURACY].groupby("run_id").first()
    table["terminal_step"] = first.step.reindex(table.index)  # NaN: never got there
    table["nc_at_terminal_step"] = first.nc.reindex(table.index)
    if "nc_bn_recalibrated" in last:
        table["nc_bn_recalibrated"] = last.nc_bn_recalibrated
    table = with_group(table.reset_index(), plan)
    columns = ["group", "run_id", *KNOB_COLUMNS, "step", "final_lr", "train_accuracy"]
    rest = [c for c in table.columns if c not in columns]
    return table[columns + rest].sort_values(["group", *KNOB_COLUMNS]).reset_index(drop=True)


def terminal_summary(metrics: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """:func:`terminal_phase` averaged over the seeds of each setting (group and knobs): the
    means, ``seeds`` and ``terminal_runs`` ("2/2": runs at training accuracy >= 0.99)."""
    runs = terminal_phase(metrics, plan)
    values = [c for c in runs.columns if c not in (*SETTING, "run_id", "lr_schedule", "seed")]
    grouped = runs.groupby(SETTING, sort=False)
    table = grouped[[c for c in values if c != "terminal"]].mean()
    table.insert(0, "seeds", grouped.seed.nunique())
    table["terminal_runs"] = [f"{t.sum()}/{len(t)}" for _, t in grouped.terminal]
    return table.reset_index()
