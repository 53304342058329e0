"""The conda environment carries exactly pyproject.toml's pins, and jobs find gcnc without it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_conda_env_pins_equal_pyproject():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    env = yaml.safe_load((ROOT / "envs" / "gcnc.yaml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert sorted(pip) == sorted(deps)
    assert not any(p.startswith("-e") or "/" in p for p in pip)  # nothing relative to a copy
