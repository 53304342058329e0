"""The conda environment carries exactly the study's pins (pyproject.toml's `study` extra), the
library's own dependencies are lower bounds that those pins satisfy, and jobs find gcnc without
it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_conda_env_pins_equal_the_study_extra():
    study = PROJECT["optional-dependencies"]["study"]
    env = yaml.safe_load((ROOT / "envs" / "gcnc.yaml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert sorted(pip) == sorted(study)
    assert not any(p.startswith("-e") or "/" in p for p in pip)  # nothing relative to a copy
    assert all(str(Requirement(p).specifier).startswith("==") for p in study)


def test_library_dependencies_are_lower_bounds_the_study_pins_satisfy():
    pins = {Requirement(p).name: Requirement(p) for p in PROJECT["optional-dependencies"]["study"]}
    core = [Requirement(p) for p in PROJECT["dependencies"]]
    assert {r.name for r in core} == {"torch", "numpy"}  # nothing of the workflow
    for req in core + [Requirement(p) for p in PROJECT["optional-dependencies"]["vision"]]:
        assert all(spec.operator == ">=" for spec in req.specifier), req
        (pinned,) = pins[req.name].specifier
        assert req.specifier.contains(pinned.version), (req, pinned)
