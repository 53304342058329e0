"""Tidy tables of a preset: every run's logged metrics with the grid parameters as columns.

Each run's files are checked as they are read (:func:`read_run`): against their records
(:mod:`gcnc.study.results.records`), and against each other (who logged the rows, no step twice,
the last
logged step where summary.json says the run ended, the same steps in both tables), so a damaged
run is refused by name instead of collected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gcnc.study.results.records import (
    REBUILD,
    DamagedResultError,
    read_json,
    read_table,
    write_table,
)

KEYS = ("step", "split", "run_id")  # what identifies a row of a run's tables
SUMMARY_KEYS = ("run_id", "status", "steps_done")


@dataclass
class RunResult:
    """A run's tables and records, read from its folder and checked."""

    metrics: pd.DataFrame
    class_metrics: pd.DataFrame
    summary: dict[str, Any]
    config: dict[str, Any]


def _rows_problem(metrics: pd.DataFrame, summary: dict[str, Any]) -> str | None:
    """Why a run's metrics rows disagree with its summary, or None."""
    if set(metrics.run_id) != {summary["run_id"]}:
        return f"rows of runs {sorted(set(metrics.run_id))}, not of {summary['run_id']}"
    twice = metrics[metrics.duplicated(["step", "split"])]
    if len(twice):
        return f"step {twice.step.iloc[0]} ({twice.split.iloc[0]}) is logged twice"
    last, end = int(metrics.step.max()), int(summary["steps_done"])
    if summary["status"] == "ok" and last != end or summary["status"] != "ok" and last >= end:
        return (
            f"the last logged step is {last}, but the run ended at step {end} with status "
            f"'{summary['status']}' (summary.json): rows are missing or extra"
        )
    return None


def read_run(folder: str | Path) -> RunResult:
    """A pretraining run's metrics, class metrics, summary and config, each verified against its
    record and checked against the others; :class:`DamagedResultError` names the file at fault."""
    folder = Path(folder)
    metrics = read_table(folder / "metrics.csv", KEYS)
    classes = read_table(folder / "class_metrics.csv", KEYS)
    summary = read_json(folder / "summary.json")
    config = read_json(folder / "config.json")
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing or "run" not in config:
        bad = folder / ("summary.json" if missing else "config.json")
        raise DamagedResultError(f"{bad}: no {', '.join(missing) or 'run'} entry. {REBUILD}")
    if problem := _rows_problem(metrics, summary):
        raise DamagedResultError(f"{folder / 'metrics.csv'}: {problem}. {REBUILD}")
    if set(classes.step) != set(metrics.step):
        raise DamagedResultError(
            f"{folder / 'class_metrics.csv'}: steps {sorted(set(classes.step))}, but metrics.csv "
            f"logged steps {sorted(set(metrics.step))}. {REBUILD}"
        )
    return RunResult(metrics, classes, summary, config)


def collect_runs(inputs: Mapping[str, Sequence[str]], outputs: Mapping[str, str]) -> None:
    """Concatenate the runs' metrics and class metrics and write runs.csv (grid point, status),
    each with its record; ``inputs`` lists each kind of run file (``summaries`` locate the
    runs), ``outputs`` names the three tables."""
    runs = [read_run(Path(p).parent) for p in inputs["summaries"]]
    sources = [p for files in inputs.values() for p in files]
    for name in ("metrics", "class_metrics"):
        tables = [getattr(r, name) for r in runs]
        write_table(pd.concat(tables, ignore_index=True), outputs[name], sources)
    rows = [
        {**r.summary, **{k: v for k, v in r.config["run"].items() if k != "model"}} for r in runs
    ]
    write_table(pd.DataFrame(rows), outputs["runs"], sources)
