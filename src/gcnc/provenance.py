"""Provenance of every figure and table: sidecars, and the audit that re-checks them.

A sidecar ``<artifact>.prov.json`` names the git commit (and whether the tree was dirty), the
preset and the hash of the resolved config, the sha256 of every input artifact back to the
prepared data (and the raw files recorded when the data were prepared), package versions and the
command. :func:`audit` recomputes every hash and reports exactly what changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from gcnc.config import config_hash

PACKAGES = (
    "gcnc",
    "torch",
    "torchvision",
    "numpy",
    "pandas",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "scipy",
    "snakemake",
    "dvc",
)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict[str, Any]:
    """Commit of HEAD and whether tracked files differ from it (untracked outputs ignored)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _raw_files(paths: Iterable[str]) -> dict[str, str]:
    """Raw-data hashes recorded in the meta.json of prepared datasets among ``paths``."""
    raw: dict[str, str] = {}
    for p in paths:
        if p.endswith("meta.json") and Path(p).exists():
            raw.update(json.loads(Path(p).read_text()).get("raw_files", {}))
    return raw


def write_sidecar(
    artifacts: Iterable[str],
    inputs: Iterable[str],
    upstream: Iterable[str],
    *,
    preset: str,
    config: dict[str, Any],
    rule: str,
    path: str | Path,
) -> dict[str, Any]:
    """Write the provenance sidecar of ``artifacts`` to ``path`` and return it."""
    inputs, upstream = sorted(set(inputs)), sorted(set(upstream) - set(inputs))
    record = {
        "artifacts": {a: sha256_file(a) for a in sorted(artifacts)},
        "inputs": {p: sha256_file(p) for p in inputs},
        "upstream": {p: sha256_file(p) for p in upstream},
        "raw_data": _raw_files(upstream),
        "git": git_state(),
        "preset": preset,
        "config_sha256": config_hash(config),
        "rule": rule,
        "command": " ".join(sys.argv),
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    Path(path).write_text(json.dumps(record, indent=2))
    return record


def sidecar_for(artifact: str | Path) -> Path:
    """The sidecar of a figure/table: ``x.pdf`` -> ``x.prov.json`` (a sidecar maps to itself)."""
    p = Path(artifact)
    if p.name.endswith(".prov.json"):
        return p
    return p.with_name(p.name.split(".")[0] + ".prov.json")


def audit(artifact: str | Path) -> list[str]:
    """Re-hash everything a sidecar names; returns a list of problems (empty = OK)."""
    record = json.loads(sidecar_for(artifact).read_text())
    problems = []
    for section in ("artifacts", "inputs", "upstream", "raw_data"):
        for path, digest in record.get(section, {}).items():
            if not Path(path).exists():
                problems.append(f"{section}: {path} is missing")
            elif sha256_file(path) != digest:
                problems.append(f"{section}: {path} changed (sha256 differs from the sidecar)")
    return problems


@contextlib.contextmanager
def job_log(path: str | Path) -> Iterator[None]:
    """Send a workflow job's stdout/stderr to its log file, headed by host and SLURM job id."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as fh:
        fh.write(
            f"# host={socket.gethostname()} slurm_job_id={os.environ.get('SLURM_JOB_ID')} "
            f"start={time.strftime('%Y-%m-%dT%H:%M:%S')}\n"
        )
        with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
            yield
