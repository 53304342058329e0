"""Provenance of every figure and table: sidecars, and the audit that re-checks them.

A sidecar ``<artifact>.prov.json`` names the git commit (and whether the tree was dirty), the
preset and the hash of its part of the config (:func:`gcnc.config.preset_config`), the sha256 of
every input and of every upstream file the artifact depends on (the runs it draws: weights,
config, metrics; their prepared data; the raw files recorded when the data were prepared), the
workflow script and the gcnc function that made it, package versions, and the command that
reproduces it. :func:`audit` re-checks all of it from the checkout that holds the sidecar."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import platform
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from snakemake.exceptions import WorkflowError

from gcnc.config import config_hash, preset_config, read_config_file, workflow_config
from gcnc.validation import ConfigError

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

    ``upstream`` is every file the artifacts depend on beyond their direct ``inputs`` (the runs
    they draw and their prepared data); ``config_sha256`` is the hash of
    :func:`gcnc.config.preset_config`; ``function`` is the gcnc function that computed them;
    ``caption`` (figures) says what the paper ran, what ran here and what the data show. The
    workflow script is ``workflow/scripts/<rule>.py`` (one script per rule)."""
    artifacts = sorted(artifacts)
    inputs, upstream = sorted(set(inputs)), sorted(set(upstream) - set(inputs))
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
        "packages": package_versions(),
        "python": platform.python_version(),
        "host": socket.gethostname(),
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if caption is not None:
        record["caption"] = caption
    Path(path).write_text(json.dumps(record, indent=2))
    return record


def sidecar_for(artifact: str | Path) -> Path:
    """The sidecar of a figure/table: ``x.pdf`` -> ``x.prov.json`` (a sidecar maps to itself)."""
    p = Path(artifact)
    if p.name.endswith(".prov.json"):
        return p
    return p.with_name(p.name.split(".")[0] + ".prov.json")


@dataclass
class AuditResult:
    """What :func:`audit` found for one sidecar: problems (empty = OK), files re-hashed, and
    recorded digests it could not re-check (a raw-data digest over a folder)."""

    sidecar: Path
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    unchecked: list[str] = field(default_factory=list)


def _current_config_hash(root: Path, preset: str) -> str:
    try:
        config = workflow_config(read_config_file(root / "params.yaml"))
    except WorkflowError as err:  # the schema check, as Snakemake reports it
        raise ConfigError(f"params.yaml: {str(err).splitlines()[0]}") from None
    if preset not in config.get("presets", {}):
        raise ConfigError(f"params.yaml has no preset '{preset}'")
    return config_hash(preset_config(config, preset))


def _check(result: AuditResult, label: str, path: Path, shown: str, digest: str) -> None:
    result.checked += 1
    if not path.exists():
        result.problems.append(f"{label}: {shown} is missing")
    elif sha256_file(path) != digest:
        result.problems.append(f"{label}: {shown} changed (sha256 differs from the sidecar)")


def audit(artifact: str | Path) -> AuditResult:
    """Re-check everything a sidecar records, from the checkout that holds it: every artifact,
    input, upstream file and raw file by sha256, the workflow script and the gcnc function's
    source, and the preset's part of params.yaml against the recorded config hash."""
    sidecar = sidecar_for(artifact)
    record = json.loads(sidecar.read_text())
    root = repo_root(sidecar.parent)
    result = AuditResult(sidecar)
    for section in ("artifacts", "inputs", "upstream"):
        for p, digest in record.get(section, {}).items():
            _check(result, section, root / p, p, digest)
    for key, entry in record.get("raw_data", {}).items():
        if entry.get("path") is None:
            result.unchecked.append(key)
        else:
            _check(result, "raw_data", root / entry["path"], entry["path"], entry["sha256"])
    for section in ("script", "function"):
        if section in record:
            code = record[section]
            _check(result, f"{section} (code changed since)", root / code["path"], code["path"],
                   code["sha256"])
    try:
        now = _current_config_hash(root, record["preset"])
    except ConfigError as err:
        result.problems.append(f"config: {err}")
    else:
        if now != record["config_sha256"]:
            result.problems.append(
                f"config: params.yaml's preset '{record['preset']}' differs from the one that "
                f"made this (sha256 {record['config_sha256'][:12]} recorded, {now[:12]} now); "
                f"rerun: make run PRESET={record['preset']}"
            )
    return result


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
