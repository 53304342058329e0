"""The run plan decides sweep membership once: checked against the grid it was expanded from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gcnc.config import KNOBS, expand_runs, load_config
from gcnc.plan import run_plan, sweep_runs

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_plan_covers_the_grid_and_places_each_run_in_its_sweep_row(preset):
    config = load_config(ROOT / "params.yaml")
    plan = run_plan(config, preset)
    runs = expand_runs(config, preset)
    assert set(plan.run_id) == set(runs)
    for row in plan.itertuples():
        spec, study = runs[row.run_id], config["presets"][preset]["studies"][row.study]
        changed = [k for k in KNOBS if getattr(spec, k) != study["base"][k]]
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
        assert not sweep_runs(plan, knob).run_id.duplicated().any()  # shared runs count once
