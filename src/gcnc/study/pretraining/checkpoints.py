"""Checkpoints bound to what made them, and file loads that name the file on failure.

A checkpoint (``checkpoints/step_*.pt``: model and optimizer state dicts, logged rows) carries
the sha256 fingerprint (:func:`gcnc.study.config.config_hash`) of the run's resolved settings
(:func:`run_settings`): the RunSpec (model sizes and steps included: with a cosine schedule the
rate at every step depends on ``steps``), every training setting except ``checkpoint_every`` and
``keep_checkpoints`` (which change no result), the metrics settings and the prepared data's
content hash; not the device.
:func:`resume_state` returns the newest readable checkpoint only if its fingerprint matches;
otherwise all checkpoints are deleted and the log says which settings changed. Unreadable
checkpoints are named in the log, deleted, and the one before is used. Writes are atomic
(:mod:`gcnc.study.results.files`): a full disk is named with the file, and no temporary file is
left.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from gcnc.study.config import config_hash
from gcnc.study.constants import RESULT_NEUTRAL
from gcnc.study.data.prepared import Prepared
from gcnc.study.grid import RunSpec
from gcnc.study.results.files import write_bytes
from gcnc.study.results.records import DamagedResultError, verify

CHECKPOINT_KEYS = {"step", "model", "optimizer", "rows", "class_rows"}


class CheckpointError(RuntimeError):
    """A checkpoint or weights file is missing, truncated or not a checkpoint; names the file."""


def save_atomic(obj: Any, path: Path) -> None:
    """``torch.save`` to ``path`` atomically. Serialised in memory first: torch's own file writer
    reports a full disk as an opaque "file write failed",
    :func:`gcnc.study.results.files.write_bytes` as
    "No space left on device" with the file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def run_settings(spec: RunSpec, preset: dict[str, Any], prepared: Prepared) -> dict[str, Any]:
    """Everything that determines a run's results (what its checkpoints are bound to)."""
    # the schedule is the run's own (RunSpec.lr_schedule): the preset's default is not a setting
    training = {
        k: v for k, v in preset["training"].items() if k not in (*RESULT_NEUTRAL, "lr_schedule")
    }
    return {
        "run": spec.to_dict(),
        "training": training,
        "metrics": dict(preset["metrics"]),
        "data": prepared.fingerprint,
    }


def _flat(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    return {k: v for key, val in d.items() for k, v in _flat(val, f"{prefix}{key}/").items()}


def changed_settings(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every setting that differs (``data`` for the prepared data)."""
    a, b = _flat(old), _flat(new)
    return [
        f"{k.rstrip('/')}: {a.get(k, '<unset>')} -> {b.get(k, '<unset>')}"
        for k in sorted(set(a) | set(b))
        if a.get(k) != b.get(k)
    ]


def load_weights(path: str | Path) -> Any:
    """A torch file (final.pt, a checkpoint) loaded onto the CPU; a missing, truncated or corrupt
    file raises :class:`CheckpointError` naming it."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path} is missing; rerun the workflow to rebuild it")
    try:
        verify(path)  # final.pt: byte for byte what pretraining wrote (its record)
    except DamagedResultError as err:
        raise CheckpointError(str(err)) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickle garbage, wrong format
        raise CheckpointError(
            f"cannot read {path} ({type(err).__name__}: {str(err).split('. ')[0]}): truncated or "
            "corrupt. Delete it and rerun (the pretrain rule rebuilds it from the run's last "
            "valid checkpoint)"
        ) from None


def discard_checkpoints(ckpt_dir: Path) -> None:
    for old in ckpt_dir.glob("step_*.pt"):
        old.unlink(missing_ok=True)


def resume_state(ckpt_dir: Path, settings: dict[str, Any], run_id: str) -> dict[str, Any] | None:
    """The newest readable checkpoint if it was made with ``settings``, else None (fresh start).

    Unreadable checkpoints are named, deleted and skipped; checkpoints made with other settings
    are all deleted, and the log says which settings changed.
    """
    fp = config_hash(settings)
    for path in sorted(ckpt_dir.glob("step_*.pt"), reverse=True):
        try:
            state = load_weights(path)
            if not isinstance(state, dict) or not set(state) >= CHECKPOINT_KEYS:
                raise CheckpointError(f"{path} is not a training checkpoint")
        except CheckpointError as err:
            print(f"{run_id}: skipping unusable checkpoint: {err}; deleted", flush=True)
            path.unlink(missing_ok=True)
            continue
        if state.get("fingerprint") == fp:
            return state
        old = state.get("settings")
        why = "; ".join(changed_settings(old, settings)) if isinstance(old, dict) else ""
        print(
            f"{run_id}: discarding the checkpoints in {ckpt_dir}: made with other settings "
            f"({why or 'not recorded: an older checkpoint'}); training from scratch",
            flush=True,
        )
        discard_checkpoints(ckpt_dir)
        return None
    return None


def prune_checkpoints(ckpt_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints (called after the newest is in place)."""
    if keep < 1:
        raise ValueError(f"keep_checkpoints must be at least 1, got {keep}")
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
