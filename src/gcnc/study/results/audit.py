"""The audit of provenance sidecars (``gcnc audit <figure, sidecar or folder> ...``).

:func:`audit` re-checks everything a sidecar (:mod:`gcnc.study.results.provenance`) records, from
the checkout
that holds it: every artifact, input, upstream file and raw file by sha256, the workflow script,
the gcnc function and every source file of the gcnc package, and the preset's part of
params.yaml against the recorded config hash. :func:`audit_targets` audits files and folders: in
a folder every sidecar, and every figure or table whose sidecar is gone fails by name; a
malformed sidecar fails by name while the others are still audited.

A published folder (``published/<preset>/``, :mod:`gcnc.study.publish.published`) is audited
for what it holds: each file the sidecar names under ``paper_figures/<preset>/`` or
``results/<preset>/`` is checked at its published copy; files not published (per-run files,
weights, prepared data) are named as absent here, not failed; code and configuration that have
changed since the recorded commit are noted, not failed (the evidence is a record of that
commit).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snakemake.exceptions import WorkflowError

from gcnc.study.config import config_hash, preset_config, read_config_file, workflow_config
from gcnc.study.results.files import sha256_file
from gcnc.study.results.provenance import repo_root, source_digests
from gcnc.study.results.records import RECORD_SUFFIX, DamagedResultError, record_path, verify
from gcnc.study.validation import ConfigError

SIDECAR_SUFFIX = ".prov.json"
SIDECAR_KEYS = {
    "artifacts": dict,
    "inputs": dict,
    "upstream": dict,
    "preset": str,
    "config_sha256": str,
}
CODE_KEYS = ("script", "function")  # {"path": ..., "sha256": ...} each
REMAKE = "rerun make run (PRESET=<its preset>): it remakes the figure or table and its sidecar"


@dataclass
class AuditResult:
    """What :func:`audit` found for one sidecar: problems (empty = OK), files re-hashed, and
    recorded digests it could not re-check (a raw-data digest over a folder)."""

    sidecar: Path
    problems: list[str] = field(default_factory=list)
    checked: int = 0
    unchecked: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class SidecarError(ValueError):
    """A sidecar that is not a provenance record; names what is wrong and what to do."""


def sidecar_for(artifact: str | Path) -> Path:
    """The sidecar of a figure/table: ``x.pdf`` -> ``x.prov.json`` (a sidecar maps to itself)."""
    p = Path(artifact)
    if p.name.endswith(SIDECAR_SUFFIX):
        return p
    return p.with_name(p.name.split(".")[0] + SIDECAR_SUFFIX)


def read_sidecar(path: Path) -> dict[str, Any]:
    """A sidecar's record, checked for the keys the audit reads."""
    try:
        record = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise SidecarError(f"not valid JSON ({err}); delete it and {REMAKE}") from None
    if not isinstance(record, dict):
        raise SidecarError(f"not a JSON object; delete it and {REMAKE}")
    if problem := _malformed(record):
        raise SidecarError(f"malformed: {problem}; delete it and {REMAKE}")
    return record


def _malformed(record: dict[str, Any]) -> str | None:
    """What in a sidecar's record the audit cannot read, or None."""
    for key, kind in SIDECAR_KEYS.items():
        if not isinstance(record.get(key), kind):
            return f"no '{key}' entry ({kind.__name__})"
    entries = {
        **{k: record[k] for k in CODE_KEYS if k in record},
        **{f"raw_data/{k}": v for k, v in _mapping(record.get("raw_data", {})).items()},
    }
    for key, entry in entries.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            return f"'{key}' has no sha256"
        if not isinstance(entry.get("path"), str) and not key.startswith("raw_data/"):
            return f"'{key}' has no path"
    package = record.get("package", {"path": "", "files": {}})
    if not isinstance(package, dict) or not isinstance(package.get("files"), dict):
        return "'package' has no files"
    if not isinstance(package.get("path"), str):
        return "'package' has no path"
    return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {"": value}


def _current_config_hash(root: Path, preset: str) -> str:
    try:
        config = workflow_config(read_config_file(root / "params.yaml"))
    except WorkflowError as err:  # a schema error gcnc.study.validation could not place
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


def _check_package(result: AuditResult, root: Path, recorded: dict[str, Any]) -> None:
    """Every source file of the gcnc package against the sidecar (changed, missing or new)."""
    folder = Path(recorded["path"])
    now = source_digests(root / folder)
    label = "package (code changed since)"
    for name, digest in recorded["files"].items():
        _check(result, label, root / folder / name, str(folder / name), digest)
    for name in sorted(set(now) - set(recorded["files"])):
        result.problems.append(f"{label}: {folder / name} is new")


def _published_copy(sidecar: Path, root: Path) -> dict[str, str] | None:
    """For a sidecar in ``published/<preset>/``: recorded path prefix -> published prefix."""
    folder = sidecar.resolve().parent
    if folder.parent.name != "published":
        return None
    from gcnc.study.publish.published import published_paths

    return published_paths(root, folder.name)


def _located(path: str, copies: dict[str, str] | None) -> str | None:
    """Where a recorded file is in this checkout: itself, or its published copy; None for a
    file a published folder does not hold."""
    if copies is None:
        return path
    for recorded, published in copies.items():
        if path.startswith(recorded) and "/" not in path[len(recorded) :]:
            return published + path[len(recorded) :]
    return None


def audit(artifact: str | Path) -> AuditResult:
    """Re-check everything a sidecar records (see the module's docstring). A missing or malformed
    sidecar raises FileNotFoundError or :class:`SidecarError`."""
    sidecar = sidecar_for(artifact)
    record = read_sidecar(sidecar)
    root = repo_root(sidecar.parent)
    result = AuditResult(sidecar)
    copies = _published_copy(sidecar, root)
    absent = 0
    for section in ("artifacts", "inputs", "upstream"):
        for p, digest in record[section].items():
            here = _located(p, copies)
            if here is None:
                absent += 1
            else:
                _check(result, section, root / here, here, digest)
    if absent:
        result.notes.append(f"{absent} upstream files not published (runs, weights, data)")
    for key, entry in record.get("raw_data", {}).items():
        if entry.get("path") is None or copies is not None:
            result.unchecked.append(key)
        else:
            _check(result, "raw_data", root / entry["path"], entry["path"], entry["sha256"])
    code = AuditResult(sidecar)
    for section in CODE_KEYS:
        if section in record:
            entry = record[section]
            label = f"{section} (code changed since)"
            _check(code, label, root / entry["path"], entry["path"], entry["sha256"])
    if "package" in record:
        _check_package(code, root, record["package"])
    try:
        now = _current_config_hash(root, record["preset"])
    except ConfigError as err:
        code.problems.append(f"config: {err}")
    else:
        if now != record["config_sha256"]:
            code.problems.append(
                f"config: params.yaml's preset '{record['preset']}' differs from the one that "
                f"made this (sha256 {record['config_sha256'][:12]} recorded, {now[:12]} now); "
                f"rerun: make run PRESET={record['preset']}"
            )
    result.checked += code.checked
    if copies is None:
        result.problems += code.problems
    elif code.problems:
        commit = str(record.get("git", {}).get("commit", "unknown"))[:12]
        result.notes.append(
            f"made by commit {commit}; since then: {len(code.problems)} code or configuration "
            "differences (not failures for published evidence)"
        )
    return result


def _without_sidecar(folder: Path) -> list[AuditResult]:
    """A failure for each figure or table in ``folder`` whose files have no sidecar; a results
    table with a record (:mod:`gcnc.study.results.records`, a published folder's collected
    tables) is checked against it instead."""
    orphans: dict[Path, list[str]] = {}
    results = []
    for p in sorted(folder.iterdir()):
        if not p.is_file() or p.name.endswith((SIDECAR_SUFFIX, RECORD_SUFFIX)):
            continue
        if record_path(p).exists():
            result = AuditResult(record_path(p), checked=1)
            try:
                verify(p)
            except DamagedResultError as err:
                result.problems.append(str(err))
            results.append(result)
        elif not sidecar_for(p).exists():
            orphans.setdefault(sidecar_for(p), []).append(p.name)
    return results + [
        AuditResult(
            s, [f"no provenance sidecar for {', '.join(names)}: {s.name} is missing; {REMAKE}"]
        )
        for s, names in orphans.items()
    ]


def audit_targets(targets: Iterable[str | Path]) -> list[AuditResult]:
    """Audit figures, tables, sidecars and folders of them; never stops at a bad sidecar."""
    results = []
    for target in map(Path, targets):
        try:
            repo_root(target)
        except FileNotFoundError as err:
            advice = "audit it inside a clone of the study, where its sidecars' paths resolve"
            results.append(AuditResult(target, [f"cannot audit: {err}; {advice}"]))
            continue
        sidecars = sorted(target.glob(f"*{SIDECAR_SUFFIX}")) if target.is_dir() else [target]
        for sidecar in sidecars:
            try:
                results.append(audit(sidecar))
            except FileNotFoundError as err:
                results.append(AuditResult(sidecar, [f"no readable provenance sidecar: {err}"]))
            except SidecarError as err:
                results.append(AuditResult(sidecar_for(sidecar), [f"sidecar {err}"]))
        if target.is_dir():
            results += _without_sidecar(target)
    return results
