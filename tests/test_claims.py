"""Each claim is tested within each study; verdicts and directions follow the data; pooled rows
use within-study ranks (Simpson's paradox cannot fool them); every row renders in Markdown."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import rankdata, spearmanr

from gcnc.claims import claims_markdown, claims_table, verdict_signed, verdict_threshold
from gcnc.claims.stats import average_ranks, within_group_spearman
from gcnc.config import RunSpec
from gcnc.plan import study_group
from tests.markdown_tables import rendered_tables, source_cell_counts

LRS = (0.01, 0.03, 0.1, 0.3, 1.0)
CFG = {"bootstrap": 300, "seed": 0}


def _study_rows(
    dataset: str, sign: int, offset: float, seeds=(0, 1), steps=(0, 50, 100)
) -> list[dict]:
    """Training rows of an lr sweep logged at ``steps``: final GC = offset + sign * 5 log10(lr)
    (+ seed jitter), reached linearly from 20 at the first step."""
    rows = []
    for lr in LRS:
        for seed in seeds:
            gc = offset + sign * 5 * np.log10(lr) + 0.1 * seed
            common = {"run_id": f"{dataset}_lr{lr}_s{seed}", "dataset": dataset, "arch": "a"}
            common |= {"task": "full", "lr": lr, "batch_size": 8, "weight_decay": 0.0}
            common |= {"gc_reg": 0.0, "seed": seed, "gc": gc, "geometric_collapse": gc / 2}
            common |= {"nc": gc / 10}
            for step in steps:
                late = step / steps[-1]
                rows.append(
                    common
                    | {"split": "train", "step": step, "accuracy": 0.5}
                    | {"gc": 20 + late * (gc - 20), "nc": 5 - late * (5 - gc / 10)}
                )
                rows.append(common | {"split": "test", "step": step, "accuracy": 0.9 - gc / 100})
    return rows


def _plan(metrics: pd.DataFrame) -> pd.DataFrame:
    runs = metrics.drop_duplicates("run_id")
    specs = [RunSpec(d, "a", "full", 0.1, 8, 0, 0, 0, 9) for d in runs.dataset]
    return pd.DataFrame(
        {
            "run_id": runs.run_id,
            "study": runs.dataset,
            "knob": "lr",
            "value": runs.lr,
            "is_base": runs.lr == 0.1,
            "seed": runs.seed,
            "dataset": runs.dataset,
            "arch": runs.arch,
            "task": runs.task,
            "group": [study_group(spec) for spec in specs],
        }
    )


def write_inputs(tmp_path, metrics: pd.DataFrame, tag: str = "") -> dict[str, str]:
    paths = {k: tmp_path / f"{k}{tag}.csv" for k in ("metrics", "runs", "bounds", "fewshot")}
    paths |= {"gc_sampling": tmp_path / f"gcs{tag}.csv", "plan": tmp_path / f"plan{tag}.csv"}
    metrics.to_csv(paths["metrics"], index=False)
    metrics.drop_duplicates("run_id")[["run_id", "arch"]].assign(status="ok").to_csv(
        paths["runs"], index=False
    )
    _plan(metrics).to_csv(paths["plan"], index=False)
    bounds = metrics[metrics.split == "train"][["run_id", "dataset", "task", "step"]]
    bounds.assign(bound="prop4.1", c_method="ritz_polynomial", holds=True, rhs=0.1, lhs=0.1).to_csv(
        paths["bounds"], index=False
    )
    pd.DataFrame(columns=["run_id", "status"]).to_csv(paths["fewshot"], index=False)
    gcs = {"axis": "features", "trial": range(5), "exact": 1.0, "exact_seconds": 1}
    sampled = {"level": 0.5, "estimate": 1.0 + 0.001 * np.arange(5), "vjps": 10, "jvps": 5}
    exact = {"level": 1.0, "estimate": 1.0, "vjps": 100, "jvps": 0}  # the all-features level
    pd.concat([pd.DataFrame(gcs | sampled), pd.DataFrame(gcs | exact)]).to_csv(
        paths["gc_sampling"], index=False
    )
    return {k: str(v) for k, v in paths.items()}


def _row(table: pd.DataFrame, claim: str, study: str) -> pd.Series:
    rows = table[(table.claim == claim) & (table.study.str.startswith(study))]
    assert len(rows) == 1, (claim, study, table[table.claim == claim].study.tolist())
    return rows.iloc[0]


LR_GC = "higher learning rate lowers embedding GC"


@pytest.mark.parametrize(
    ("sign", "verdict", "direction"),
    [(-1, "reproduced", "as predicted"), (+1, "not reproduced", "opposite")],
)
def test_verdict_and_direction_follow_the_data(tmp_path, sign, verdict, direction):
    metrics = pd.DataFrame(_study_rows("d", sign, 10))
    table = claims_table(write_inputs(tmp_path, metrics), CFG, "d_lr0.1_s0")
    row = _row(table, LR_GC, "d x a")
    assert (row.verdict, row.direction, row.n_runs) == (verdict, direction, 10)
    final = metrics[(metrics.split == "train") & (metrics.step == 100)]
    assert row.value == pytest.approx(spearmanr(final.lr, final.gc)[0])
    order = _row(table, ORDER, "d x a")
    assert order.verdict == verdict  # the curves keep (or invert) their order at every step
    assert _row(table, "NC falls along training (neural collapse)", "d x a").verdict == (
        "reproduced"
    )
    assert _row(table, "the GC estimate is stable under sampling", "d x a").verdict == "reproduced"
    cheap = _row(table, "sampled GC is cheap next to exact GC", "d x a")
    assert cheap.value == pytest.approx((10 + 2 * 5) / 100)  # a JVP costs two VJPs


ORDER = "higher learning rate lowers GC all along training (Fig. 1 curves keep their order)"


def test_curve_order_is_read_at_each_study_s_own_logged_steps(tmp_path):
    """Studies log on their own intervals: each is judged on its steps, not on those all share."""
    d = _study_rows("d", -1, 10, steps=(0, 50, 100))
    e = _study_rows("e", -1, 10, steps=(0, 30, 60, 90))
    e = [r for r in e if not (r["step"] == 30 and r["lr"] == 1.0 and r["seed"] == 0)]  # unlogged
    table = claims_table(write_inputs(tmp_path, pd.DataFrame(d + e)), CFG, "d_lr0.1_s0")
    for study in ("d x a", "e x a"):
        row = _row(table, ORDER, study)
        assert (row.verdict, row.value) == ("reproduced", 1.0)
    # inverted at 60 in e: half of its logged steps (60, 90; 30 is not logged by every run)
    for r in e:
        if r["split"] == "train" and r["step"] == 60:
            r["gc"] = 40 - r["gc"]
    table = claims_table(write_inputs(tmp_path, pd.DataFrame(d + e), "2"), CFG, "d_lr0.1_s0")
    assert _row(table, ORDER, "e x a").value == pytest.approx(0.5)
    assert _row(table, ORDER, "d x a").value == 1.0


def test_too_few_runs_is_inconclusive_but_keeps_its_direction(tmp_path):
    metrics = pd.DataFrame(_study_rows("d", -1, 10, seeds=(0,)))[lambda m: m.lr != 1.0]
    row = _row(claims_table(write_inputs(tmp_path, metrics), CFG, "x"), LR_GC, "d x a")
    assert row.n_runs == 4 and row.verdict == "inconclusive" and "too few" in row.statistic


def test_pooled_row_uses_within_study_ranks(tmp_path):
    """Simpson's paradox: within each study GC falls with lr, but the study with larger lrs has
    a much larger GC, so a naive pooled Spearman is positive. The pooled row must say negative."""
    low = pd.DataFrame(_study_rows("low", -1, 10))
    high = pd.DataFrame(_study_rows("high", -1, 100)).assign(lr=lambda m: m.lr * 100)
    metrics = pd.concat([low, high])
    final = metrics[(metrics.split == "train") & (metrics.step == 100)]
    assert spearmanr(final.lr, final.gc)[0] > 0.3  # the naive pooled statistic is fooled
    table = claims_table(write_inputs(tmp_path, metrics), CFG, "x")
    pooled = _row(table, LR_GC, "pooled: 2 studies")
    assert pooled.verdict == "reproduced" and pooled.value < -0.9 and pooled.n_runs == 20
    across = _row(table, "the knobs lower GC in every dataset and architecture", "all")
    assert across.verdict == "reproduced" and across.value == 2


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_average_ranks_equal_scipy(values):
    np.testing.assert_allclose(average_ranks(np.array(values)), rankdata(values))


def test_within_group_spearman_on_one_group_is_spearman():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=40), rng.normal(size=40)
    cols = {"x": x, "y": y, "group": np.zeros(40)}
    assert within_group_spearman("x", "y")(cols) == pytest.approx(spearmanr(x, y)[0])


def test_every_markdown_row_renders_with_its_cells(tmp_path):
    metrics = pd.DataFrame(_study_rows("d", -1, 10))
    table = claims_table(write_inputs(tmp_path, metrics), CFG, "x")
    table.loc[0, "statistic"] = "|relative bias| with a pipe"
    md = claims_markdown(table, "test", CFG)
    (rendered,) = rendered_tables(md)
    (counts,) = source_cell_counts(md)
    shown = table[~table.statistic.str.contains("too few|no runs|nothing to test")]
    assert len(rendered) == len(shown) + 1 and set(counts) == {9}
    assert rendered[1][5] == "|relative bias| with a pipe"  # the escaped pipes stayed text
    assert [row[8] for row in rendered[1:]] == [f"**{v}**" for v in shown.verdict]


def test_verdict_rules():
    assert verdict_signed(-0.9, -0.2, -1) == "reproduced"
    assert verdict_signed(0.2, 0.9, -1) == "not reproduced"
    assert verdict_signed(-0.5, 0.5, -1) == "inconclusive"
    assert verdict_signed(float("nan"), 0.5, 1) == "inconclusive"
    assert verdict_threshold(0.96, 1.0, 0.95, True) == "reproduced"
    assert verdict_threshold(0.1, 0.2, 0.05, False) == "not reproduced"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_ranks_refuse_non_finite_values(bad):
    with pytest.raises(ValueError, match="non-finite"):
        average_ranks(np.array([1.0, bad, 3.0]))


def test_a_nan_is_left_out_and_said_not_ranked_as_the_largest():
    """y falls with x on 6 runs; a 7th run's NaN ranked as the largest value would pull the
    correlation up (to -0.64 here); left out, the rank correlation is exactly -1."""
    from gcnc.claims.table import Claims

    frame = pd.DataFrame(
        {
            "run_id": [f"r{i}" for i in range(7)],
            "group": "g",
            "x": [1.0, 2, 3, 4, 5, 6, 7],
            "y": [6.0, 5, 4, 3, 2, 1, np.nan],
        }
    )
    naive = spearmanr(frame.x, rankdata(frame.y.fillna(np.inf)))[0]
    assert naive > -0.7  # what ranking the NaN last would have given
    c = Claims(n_boot=200, seed=0)
    c.signed("y falls with x", frame, "x", "y", -1)
    row = c.table().iloc[0]
    assert row["value"] == pytest.approx(-1.0) and row["n_runs"] == 6
    assert row["statistic"] == "Spearman(x, y); 1 non-finite left out"
    assert row["verdict"] == "reproduced"
