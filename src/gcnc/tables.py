"""Tidy tables of a preset: every run's logged metrics with the grid parameters as columns."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd


def collect_runs(inputs: Mapping, outputs: Mapping) -> None:
    """Concatenate per-run metrics/class metrics and write runs.csv (grid point, status)."""
    metrics = pd.concat([pd.read_csv(p) for p in inputs["metrics"]], ignore_index=True)
    metrics.to_csv(outputs["metrics"], index=False)
    classes = pd.concat([pd.read_csv(p) for p in inputs["class_metrics"]], ignore_index=True)
    classes.to_csv(outputs["class_metrics"], index=False)
    rows = []
    for path in inputs["summaries"]:
        summary = json.loads(Path(path).read_text())
        config = json.loads((Path(path).parent / "config.json").read_text())
        rows.append({**summary, **{k: v for k, v in config["run"].items() if k != "model"}})
    pd.DataFrame(rows).to_csv(outputs["runs"], index=False)
