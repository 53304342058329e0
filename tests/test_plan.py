"""The run plan decides sweep membership once: checked against the grid it was expanded from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gcnc.study.config import load_config
from gcnc.study.grid import KNOBS, expand_runs
from gcnc.study.plan import run_plan, sweep_runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", ["smoke", "quick", "controls", "paper"])
def test_plan_covers_the_grid_and_places_each_run_in_its_sweep_row(preset):
    config = load_config(ROOT / "params.yaml")
    plan = run_plan(config, preset)
    runs = expand_runs(config, preset)
    assert set(plan.run_id) == set(runs)
    for row in plan.itertuples():
        spec, study = runs[row.run_id], config["presets"][preset]["studies"][row.study]
        changed = [k for k in KNOBS if getattr(spec, k) != study["base"][k]]
        if study.get("lr_scales_with_batch") and "batch_size" in changed:
            changed.remove("lr")  # its learning rate follows the batch size
            assert spec.lr == study["base"]["lr"] * spec.batch_size / study["base"]["batch_size"]
        if row.is_base:
            assert not changed and (row.knob in study.get("sweep", {}) or pd.isna(row.knob))
        else:
            assert changed == [row.knob] and row.value == getattr(spec, row.knob)
    for knob in KNOBS:  # a sweep row: the base point and the values swept, for every seed
        for study_name, study in config["presets"][preset]["studies"].items():
            values = study.get("sweep", {}).get(knob)
            if not values:
                continue
            rows = plan[(plan.knob == knob) & (plan.study == study_name)]
            expected = {study["base"][knob], *values}
            assert {getattr(runs[r], knob) for r in rows.run_id} == expected
            assert len(rows) == len(expected) * len(study["seeds"])
        # a run shared by two studies of one group counts once there
        assert not sweep_runs(plan, knob)[["run_id", "group"]].duplicated().any()


def test_a_budget_in_epochs_keeps_a_batch_sweep_in_one_group():
    """controls' Fig. 1 study: 64 epochs of the 1,500 source images at every batch size, logged
    every 8 epochs; one comparison group, named by its budget; the run ids name it too."""
    config = load_config(ROOT / "params.yaml")
    plan = run_plan(config, "controls")
    runs = expand_runs(config, "controls")
    fig1 = plan[plan.study == "fig1"].drop_duplicates("run_id")
    specs = {runs[r].batch_size: runs[r] for r in fig1.run_id}
    assert {b: s.steps for b, s in specs.items()} == {16: 6000, 64: 1500, 128: 750}
    assert {b: s.log_every for b, s in specs.items()} == {16: 750, 64: 188, 128: 94}
    assert fig1.group.nunique() == 1 and "64 epochs" in fig1.group.iloc[0]
    assert all("_epochs~64_" in r and "steps~" not in r for r in fig1.run_id)
    coupled = plan[plan.study == "batch_equal_noise"]
    assert coupled.group.nunique() == 1 and "LR proportional to batch size" in coupled.group.iloc[0]
    assert set(coupled[coupled.is_base].run_id) <= set(fig1.run_id)  # the shared base point
    assert set(coupled.knob) == {"batch_size"}


@pytest.mark.parametrize(
    ("study", "error"),
    [
        ({"epochs": 4, "steps": 10}, "set steps or epochs, not both"),
        ({"log_every_epochs": 1}, "needs the budget in epochs"),
        ({"epochs": 4, "log_every_epochs": 1, "log_every": 5}, "needs the budget in epochs"),
    ],
)
def test_budget_keys_that_contradict_each_other_are_refused(study, error):
    from gcnc.study.config import resolve_config, validate_config
    from gcnc.study.validation import ConfigError

    config = load_config(ROOT / "params.yaml")
    config["presets"]["smoke"]["studies"]["fig1"].update(study)
    with pytest.raises(ConfigError, match=f"'presets/smoke/studies/fig1/.*': {error}"):
        validate_config(resolve_config(config))
