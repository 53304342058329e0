"""The terminal-phase table: each run's end state, read from its last two logged steps."""

from __future__ import annotations

import pandas as pd
import pytest

from gcnc.study.plan import with_group
from gcnc.study.pretraining.terminal import terminal_phase, terminal_summary


def _metrics() -> pd.DataFrame:
    """Two runs logged at steps 0, 10, 20 (rows out of order); run b stops improving."""
    rows = []
    for run, lr, nc_path, acc_path in (
        ("a", 0.1, (4.0, 1.0, 0.5), (0.2, 0.9, 1.0)),
        ("b", 0.01, (4.0, 2.0, 2.0), (0.2, 0.6, 0.7)),
    ):
        for i in (2, 0, 1):  # logged out of order
            step, nc, acc = 10 * i, nc_path[i], acc_path[i]
            common = dict(run_id=run, step=step, lr=lr, lr_schedule="cosine", batch_size=8)
            common |= dict(weight_decay=0.0, gc_reg=0.0, seed=0, step_lr=lr / (1 + step))
            geometry = dict(geometric_collapse=nc / 2, inv_dist_sum=1 / nc)
            train = dict(split="train", accuracy=acc, loss=1 - acc, nc=nc, gc=nc)
            rows.append(common | train | geometry)
            rows.append(common | geometry | dict(split="test", accuracy=acc / 2, loss=2.0))
    return pd.DataFrame(rows)


def test_terminal_phase_reads_each_runs_last_two_logs():
    plan = pd.DataFrame({"run_id": ["a", "b", "a"], "group": ["g", "g", "g"]})
    table = terminal_phase(_metrics(), plan).set_index("run_id")
    assert list(table.index) == ["b", "a"]  # sorted by group, then knobs (lr ascending)
    assert table.loc["a", "final_lr"] == pytest.approx(0.1 / 21)
    assert table.loc["a", "train_accuracy"] == 1.0 and table.loc["a", "train_loss"] == 0.0
    assert table.loc["a", "nc"] == 0.5 and table.loc["a", "nc_last_ratio"] == 0.5
    assert table.loc["b", "nc_last_ratio"] == 1.0  # NC has stopped falling
    assert table.loc["a", "test_accuracy"] == 0.5
    assert table.terminal.to_dict() == {"b": False, "a": True}
    assert (table.group == "g").all() and (table.step == 20).all()


def test_runs_outside_the_plan_are_left_out():
    plan = pd.DataFrame({"run_id": ["a"], "group": ["g"]})
    assert list(terminal_phase(_metrics(), plan).run_id) == ["a"]
    frame = pd.DataFrame({"run_id": ["a", "z"], "group": ["stale", "stale"], "x": [1, 2]})
    assert with_group(frame, plan).to_dict("records") == [{"run_id": "a", "x": 1, "group": "g"}]


def test_summary_averages_the_seeds_of_each_setting():
    metrics = _metrics()
    again = metrics.assign(seed=1, run_id=metrics.run_id + "1")
    again["nc"] = again.nc * 3  # seed 1: three times the NC at every step
    again.loc[again.run_id == "a1", "accuracy"] = 0.5  # and run a not terminal
    plan = pd.DataFrame({"run_id": ["a", "b", "a1", "b1"], "group": "g"})
    table = terminal_summary(pd.concat([metrics, again]), plan).set_index("lr")
    assert table.loc[0.1, "nc"] == pytest.approx((0.5 + 1.5) / 2)
    assert table.loc[0.1, "nc_last_ratio"] == pytest.approx(0.5)  # a ratio: the same for both
    assert table.loc[0.1, "inv_dist_sum"] == pytest.approx((2 + 2) / 2)
    assert table.seeds.tolist() == [2, 2]
    assert table.terminal_runs.to_dict() == {0.01: "0/2", 0.1: "1/2"}
