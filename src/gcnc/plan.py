"""The run plan: which run belongs to which study and to which row of a sweep, decided once.

The grid of a preset (:func:`gcnc.config.study_runs`) is written out as ``results/<preset>/
plan.csv`` with one row per (run, study, sweep row): a run that changes one knob from its study's
base point belongs to that knob's row; the base point belongs to every row of the study (it is
the middle value of each sweep). Consumers select runs from this table by ``run_id``; nobody
compares hyper-parameter values again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcnc.config import KNOBS, study_runs

PLAN_COLUMNS = [
    "run_id",
    "study",
    "knob",
    "value",
    "is_base",
    "seed",
    "dataset",
    "arch",
    "task",
    "group",
]


def study_group(dataset: str, arch: str, task: str) -> str:
    """The comparison group of a run: runs of the same dataset, architecture and task (all
    classes or the source classes) are comparable; statistics never pool across groups."""
    return f"{dataset} x {arch}" + (" (source classes)" if task == "source" else "")


def run_plan(config: dict[str, Any], preset: str) -> pd.DataFrame:
    """One row per (run, study, sweep row); a study without a sweep has ``knob`` empty."""
    rows = []
    for name, study in config["presets"][preset]["studies"].items():
        knobs = [k for k in KNOBS if study.get("sweep", {}).get(k)]
        base = study["base"]
        for spec in study_runs(config, preset, name):
            run = spec.to_dict()
            changed = [k for k in KNOBS if run[k] != base[k]]
            for knob in changed or knobs or [None]:
                rows.append(
                    {
                        "run_id": spec.run_id,
                        "study": name,
                        "knob": knob,
                        "value": run[knob] if knob else None,
                        "is_base": not changed,
                        "seed": spec.seed,
                        "dataset": spec.dataset,
                        "arch": spec.arch,
                        "task": spec.task,
                        "group": study_group(spec.dataset, spec.arch, spec.task),
                    }
                )
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def sweep_runs(plan: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The runs on ``knob``'s sweep row of every study that sweeps it, one row per run and
    group (a run shared by two studies of the same group counts once)."""
    rows = plan[plan.knob == knob]
    return rows.drop_duplicates(["run_id", "group"])
