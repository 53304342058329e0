"""Each claim's verdict follows its data: flip the data and the verdict flips."""

import numpy as np
import pandas as pd

from gcnc.claims import claims_table, verdict_signed, verdict_threshold

STUDY = {
    "fig1": {
        "dataset": "d",
        "arch": "a",
        "base": {"lr": 0.1, "batch_size": 8, "weight_decay": 0.0, "gc_reg": 0.0},
        "sweep": {"lr": [0.01, 0.03, 0.3, 1.0]},
        "seeds": [0, 1],
    }
}


def _inputs(tmp_path, sign: int) -> dict:
    rows = []
    for lr in (0.01, 0.03, 0.1, 0.3, 1.0):
        for seed in (0, 1):
            gc = 10 + sign * 5 * np.log10(lr) + 0.1 * seed
            rows.append(
                {
                    "run_id": f"lr{lr}_s{seed}",
                    "dataset": "d",
                    "arch": "a",
                    "task": "full",
                    "split": "train",
                    "step": 100,
                    "lr": lr,
                    "batch_size": 8,
                    "weight_decay": 0.0,
                    "gc_reg": 0.0,
                    "seed": seed,
                    "gc": gc,
                    "geometric_collapse": gc / 2,
                    "nc": gc / 10,
                }
            )
    metrics = pd.DataFrame(rows)
    paths = {
        k: tmp_path / f"{k}{sign}.csv"
        for k in ("metrics", "runs", "bounds", "fewshot", "gc_sampling")
    }
    metrics.to_csv(paths["metrics"], index=False)
    metrics[["run_id"]].assign(status="ok").to_csv(paths["runs"], index=False)
    pd.DataFrame(
        {
            "bound": ["prop4.1"],
            "c_method": ["ritz_polynomial"],
            "holds": [True],
            "run_id": ["x"],
            "step": [1],
            "rhs": [0.1],
        }
    ).to_csv(paths["bounds"], index=False)
    pd.DataFrame(columns=["run_id"]).to_csv(paths["fewshot"], index=False)
    pd.DataFrame(
        {
            "axis": "features",
            "level": 0.5,
            "trial": range(5),
            "estimate": 1.0 + 0.001 * np.arange(5),
            "exact": 1.0,
        }
    ).to_csv(paths["gc_sampling"], index=False)
    return {k: str(v) for k, v in paths.items()}


def test_learning_rate_verdict_follows_the_data(tmp_path):
    cfg = {"bootstrap": 300, "seed": 0}
    lowers = claims_table(_inputs(tmp_path, -1), STUDY, cfg).set_index("claim")
    raises = claims_table(_inputs(tmp_path, +1), STUDY, cfg).set_index("claim")
    claim = "higher learning rate lowers embedding GC"
    assert lowers.loc[claim, "verdict"] == "reproduced"
    assert raises.loc[claim, "verdict"] == "not reproduced"
    assert lowers.loc["the GC estimate is stable under sampling", "verdict"] == "reproduced"
    assert lowers.loc["larger L2 lowers embedding GC", "verdict"] == "inconclusive"  # no runs


def test_verdict_rules():
    assert verdict_signed(-0.9, -0.2, -1) == "reproduced"
    assert verdict_signed(0.2, 0.9, -1) == "not reproduced"
    assert verdict_signed(-0.5, 0.5, -1) == "inconclusive"
    assert verdict_signed(float("nan"), 0.5, 1) == "inconclusive"
    assert verdict_threshold(0.96, 1.0, 0.95, True) == "reproduced"
    assert verdict_threshold(0.1, 0.2, 0.05, False) == "not reproduced"
