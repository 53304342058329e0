"""The run plan: which run belongs to which study and to which row of a sweep, decided once.

The grid of a preset (:func:`gcnc.study.grid.study_runs`) is written out as ``results/<preset>/
plan.csv`` with one row per (run, study, sweep row): a run that changes one knob from its study's
base point belongs to that knob's row; the base point belongs to every row of the study (it is
the middle value of each sweep). Consumers select runs from this table by ``run_id``; nobody
compares hyper-parameter values again.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcnc.study.grid import KNOBS, RunSpec, study_runs

PLAN_COLUMNS = [
    "run_id",
    "study",
    "knob",
    "value",
    "is_base",
    "seed",
    "dataset",
    "dataset_kind",
    "arch",
    "task",
    "lr_schedule",
    "steps",
    "budget",
    "model",
    "group",
]


def model_options(spec: RunSpec) -> str:
    """A run's model options as people write them (``batchnorm=False, width=16``; empty for the
    architecture's defaults)."""
    return ", ".join(f"{k}={v}" for k, v in sorted(spec.model.items()))


def budget_text(spec: RunSpec) -> str:
    """'1500 steps' or '64 epochs'."""
    unit, amount = spec.budget.split("~")
    return f"{amount} {unit}"


def study_group(spec: RunSpec, lr_scales_with_batch: bool = False) -> str:
    """The comparison group of a run: runs that differ in nothing but the knobs and the seed
    (same dataset, architecture and model options, task, learning-rate schedule and budget, in
    steps or in epochs) are comparable; a sweep whose learning rate follows the batch size is a
    design of its own. Statistics never pool across groups."""
    options = model_options(spec)
    classes = "source classes, " if spec.task == "source" else ""
    coupled = ", LR proportional to batch size" if lr_scales_with_batch else ""
    return (
        f"{spec.dataset} x {spec.arch}{f'[{options}]' if options else ''} "
        f"({classes}{spec.lr_schedule} LR, {budget_text(spec)}{coupled})"
    )


def protocol_of(group: str) -> str:
    """How a comparison group's runs were trained, read from its name (:func:`study_group`):
    'cosine LR, 64 epochs[, LR proportional to batch size][, batchnorm=False]'."""
    head, _, how = group.rpartition(" (")
    options = head.split("[", 1)[1].rstrip("]") if "[" in head else ""
    return ", ".join(filter(None, [how.rstrip(")").removeprefix("source classes, "), options]))


def run_plan(config: dict[str, Any], preset: str) -> pd.DataFrame:
    """One row per (run, study, sweep row); a study without a sweep has ``knob`` empty."""
    rows = []
    for name, study in config["presets"][preset]["studies"].items():
        knobs = [k for k in KNOBS if study.get("sweep", {}).get(k)]
        base = study["base"]
        coupled = bool(study.get("lr_scales_with_batch"))
        for spec in study_runs(config, preset, name):
            run = spec.to_dict()
            changed = [k for k in KNOBS if run[k] != base[k]]
            if coupled and "batch_size" in changed:  # its lr follows the batch size
                changed.remove("lr")
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
                        "dataset_kind": config["datasets"][spec.dataset]["kind"],
                        "arch": spec.arch,
                        "task": spec.task,
                        "lr_schedule": spec.lr_schedule,
                        "steps": spec.steps,
                        "budget": budget_text(spec),
                        "model": model_options(spec),
                        "group": study_group(spec, coupled),
                    }
                )
    return pd.DataFrame(rows, columns=PLAN_COLUMNS)


def with_group(frame: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows with a ``run_id``) with each run's comparison group from the plan: a run
    shared by two designs (e.g. the base point of a sweep at fixed and at scaled learning rate)
    appears once in each; rows of runs the plan does not know are dropped."""
    groups = plan[["run_id", "group"]].drop_duplicates()
    return frame.drop(columns="group", errors="ignore").merge(groups, on="run_id")


def sweep_runs(plan: pd.DataFrame, knob: str) -> pd.DataFrame:
    """The runs on ``knob``'s sweep row of every study that sweeps it, one row per run and
    group (a run shared by two studies of the same group counts once)."""
    rows = plan[plan.knob == knob]
    return rows.drop_duplicates(["run_id", "group"])
