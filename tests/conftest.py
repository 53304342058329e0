"""Shared fixtures: the study config and small prepared datasets in a temp directory."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from gcnc.study.config import load_config
from gcnc.study.data import load_prepared, prepare_dataset
from tests.projects import copy_project, run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def config() -> dict:
    return load_config(ROOT / "params.yaml")


@pytest.fixture
def cfg(config) -> dict:
    """A deep copy of the study config that a test may change."""
    return copy.deepcopy(config)


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory, config) -> Path:
    out = tmp_path_factory.mktemp("prepared")
    for name in ("digits", "gaussians", "uniform_boxes"):
        prepare_dataset(name, config, out / name)
    return out


@pytest.fixture(scope="session")
def gaussians(prepared_dir):
    return load_prepared(prepared_dir / "gaussians")


@pytest.fixture(scope="session")
def digits(prepared_dir):
    return load_prepared(prepared_dir / "digits")


@pytest.fixture(scope="session")
def smoke_project(tmp_path_factory) -> Path:
    """The smoke preset run once through `dvc repro` (which runs Snakemake) in a git+DVC copy;
    end-to-end tests copy it (shared by test_workflow.py and the fault tests)."""
    proj = copy_project(tmp_path_factory.mktemp("proj"), "smoke")
    run(["git", "init", "-q"], proj)
    run(["dvc", "init", "-q"], proj)
    run(["git", "add", "-A"], proj)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"], proj)
    run(["dvc", "repro"], proj)
    return proj


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)
