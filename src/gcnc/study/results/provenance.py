"""Provenance of every figure and table: the sidecar written beside it.

A sidecar ``<artifact>.prov.json`` names the git commit (and whether the tree was dirty), the
preset and the hash of its part of the config (:func:`gcnc.study.config.preset_config`), the sha256
of every input and of every file upstream of it: the runs it draws (weights, config, metrics), and
everything its inputs were made from, found through the records of the results
(:func:`gcnc.study.results.records.lineage`: per-run tables, summaries, collected and few-shot
tables, prepared
data), the raw files recorded when the data were prepared; the workflow script, the gcnc function
that made it and every source file of the gcnc package, package versions, and the command that
reproduces it. :func:`gcnc.study.results.audit.audit` re-checks all of it from the checkout that
holds it."""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import gcnc
from gcnc.study.results.files import sha256_file, write_text
from gcnc.study.results.records import lineage

ROOT_MARKERS = ("Snakefile", "params.yaml")

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


def repo_root(start: str | Path) -> Path:
    """The checkout holding ``start``: the nearest folder above it with a Snakefile and a
    params.yaml. Sidecar paths are relative to it, so the audit works from any directory."""
    here = Path(start).resolve()
    for folder in (here, *here.parents):
        if all((folder / marker).is_file() for marker in ROOT_MARKERS):
            return folder
    raise FileNotFoundError(
        f"{start}: not inside a checkout of the study (no folder above it holds "
        f"{' and '.join(ROOT_MARKERS)})"
    )


def _code(path: str | Path) -> dict[str, str]:
    """Path (relative to the working directory when inside it) and sha256 of a source file."""
    path = Path(path)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(Path.cwd().resolve())
    return {"path": str(path), "sha256": sha256_file(path)}


def source_digests(folder: str | Path) -> dict[str, str]:
    """sha256 of every source file (``.py``, schema ``.yaml``) under ``folder``, by path in it."""
    folder = Path(folder)
    files = sorted(p for pattern in ("*.py", "*.yaml") for p in folder.rglob(pattern))
    return {str(p.relative_to(folder)): sha256_file(p) for p in files}


def package_sources() -> dict[str, Any]:
    """Where the imported gcnc package's source is (relative to the working directory when
    inside it) and the sha256 of each of its files."""
    folder = Path(gcnc.__file__).parent.resolve()
    where = folder
    with contextlib.suppress(ValueError):
        where = folder.relative_to(Path.cwd().resolve())
    return {"path": str(where), "files": source_digests(folder)}


def _raw_files(paths: Iterable[str]) -> dict[str, dict[str, str | None]]:
    """Raw files recorded in the meta.json of prepared datasets among ``paths``: the sha256 taken
    when the data were prepared and where the file is (None for a digest over a folder)."""
    raw: dict[str, dict[str, str | None]] = {}
    for p in paths:
        if not p.endswith("meta.json") or not Path(p).exists():
            continue
        meta = json.loads(Path(p).read_text())
        folder = Path(meta.get("raw_source", {}).get("path", "."))
        for key, digest in meta.get("raw_files", {}).items():
            found = [c for c in (folder / Path(key).name, folder.parent / key) if c.is_file()]
            location = str(found[0]) if found and not key.endswith("/") else None
            raw[key] = {"sha256": digest, "path": location}
    return raw


def write_sidecar(
    artifacts: Iterable[str],
    inputs: Iterable[str],
    upstream: Iterable[str],
    *,
    preset: str,
    config_sha256: str,
    rule: str,
    function: Callable[..., Any],
    path: str | Path,
    caption: str | None = None,
) -> dict[str, Any]:
    """Write the provenance sidecar of ``artifacts`` to ``path`` and return it.

    ``upstream`` names files the artifacts depend on beyond their direct ``inputs`` (the runs
    they draw and their prepared data); everything those were made from is added from their
    records (:func:`gcnc.study.results.records.lineage`). ``config_sha256`` is the hash of
    :func:`gcnc.study.config.preset_config`; ``function`` is the gcnc function that computed them;
    ``caption`` (figures) says what the paper ran, what ran here and what the data show. The
    workflow script is ``workflow/scripts/<rule>.py`` (one script per rule)."""
    artifacts, inputs = sorted(artifacts), sorted(set(inputs))
    upstream = sorted((set(upstream) | set(lineage([*inputs, *upstream]))) - set(inputs))
    record = {
        "artifacts": {a: sha256_file(a) for a in artifacts},
        "inputs": {p: sha256_file(p) for p in inputs},
        "upstream": {p: sha256_file(p) for p in upstream},
        "raw_data": _raw_files(upstream),
        "git": git_state(),
        "preset": preset,
        "config_sha256": config_sha256,
        "rule": rule,
        "reproduce": f"snakemake --cores 1 --forcerun {rule} --config preset={preset} -- "
        f"{artifacts[0]}",
        "script": _code(Path("workflow/scripts") / f"{rule}.py"),
        "function": {
            "name": f"{function.__module__}.{function.__qualname__}",
            **_code(inspect.getsourcefile(function) or ""),
        },
        "package": package_sources(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if caption is not None:
        record["caption"] = caption
    write_text(path, json.dumps(record, indent=2))
    return record


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
