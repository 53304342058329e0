"""Temporary copies of the project for end-to-end tests: the copy, the command runner, the tables
a run must reproduce, the comparison of two runs' results, and a job's file list for running a
workflow script outside Snakemake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
from snakemake.iocontainers import Namedlist

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
PROJECT_FILES = [
    "Makefile",
    "Snakefile",
    "dvc.yaml",
    "params.yaml",
    "workflow",
    "profiles",
    "envs",
    "src",
    ".dvcignore",
]
DETERMINISTIC_TABLES = {  # table -> columns that measure time, not results
    "metrics.csv": ["wall_time", "log_seconds"],
    "class_metrics.csv": [],
    "runs.csv": [],
    "fewshot.csv": [],
    "poincare.csv": [],
    "bounds.csv": [],
    "gc_sampling.csv": ["seconds", "exact_seconds"],
    "finetune.csv": ["seconds"],
}


def run(
    cmd: list[str], cwd: Path, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    env = {**ENV, **(env or {})}
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    if check and res.returncode != 0:
        raise AssertionError(
            f"{cmd} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        )
    return res


def copy_project(dest: Path, preset: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(
                src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            shutil.copy2(src, dest / name)
    params = dest / "params.yaml"
    params.write_text(params.read_text().replace("preset: quick", f"preset: {preset}", 1))
    return dest


def same_results(a: Path, b: Path, preset: str = "smoke") -> None:
    """Every table of ``a``'s and ``b``'s runs of ``preset`` equal (timing columns aside), and
    their claims tables equal."""
    for name, timing in DETERMINISTIC_TABLES.items():
        left, right = (
            pd.read_csv(p / "results" / preset / name).drop(columns=timing) for p in (a, b)
        )
        pd.testing.assert_frame_equal(left, right, obj=name)
    claims = [pd.read_csv(p / "paper_figures" / preset / "claims.csv") for p in (a, b)]
    pd.testing.assert_frame_equal(*claims, obj="claims.csv")


def namedlist(**named: str | list[str]) -> Namedlist:
    """A job's ``snakemake.input`` as Snakemake builds it: every file in one list, each name
    giving its file or its list of files; for running a workflow script outside Snakemake."""
    files: Namedlist = Namedlist()
    for name, value in named.items():
        start = len(files)
        files.extend(value if isinstance(value, list) else [value])
        files._set_name(name, start, len(files) if isinstance(value, list) else None)
    return files
