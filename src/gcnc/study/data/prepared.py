"""Reading and writing prepared datasets, and the task views used by pretraining and transfer.

On disk: ``<dir>/arrays.npz`` (x_train, y_train, x_test, y_test as stored: uint8 images or float32
vectors) and ``<dir>/meta.json`` (classes, source/target split, input normalisation, known
Poincare constants). Writes are atomic: a failed preparation leaves nothing behind.

meta.json records under ``integrity`` the sha256 of arrays.npz and of its own content (the
canonical JSON of the rest of meta.json). Every load verifies both: a truncated or altered
arrays.npz, or an unreadable meta.json, raises :class:`DataCorruptError` naming the file and
saying to delete the folder and rerun (Snakemake then prepares the dataset again). The content
hash also identifies the data a checkpoint was trained on (:attr:`Prepared.fingerprint`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gcnc.study.config import config_hash
from gcnc.study.data.errors import DataCorruptError
from gcnc.study.results.files import sha256_file

INTEGRITY = "integrity"  # meta.json key: {"arrays.npz": sha256, "meta": sha256}
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")


def meta_sha256(meta: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``meta`` without its ``integrity`` record."""
    return config_hash({k: v for k, v in meta.items() if k != INTEGRITY})


def write_prepared(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write arrays.npz and meta.json (with their checksums) into ``out_dir`` atomically (temp
    dir, then rename)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        np.savez(tmp / "arrays.npz", **arrays)
        meta = json.loads(json.dumps({k: v for k, v in meta.items() if k != INTEGRITY}))
        meta[INTEGRITY] = {"arrays.npz": sha256_file(tmp / "arrays.npz"), "meta": meta_sha256(meta)}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@dataclass
class Split:
    """Inputs (float32, normalised) and integer labels 0..k-1 of one split of a task view."""

    x: torch.Tensor
    y: torch.Tensor


@dataclass
class Prepared:
    """A prepared dataset in memory (normalised float32 inputs) with its metadata."""

    meta: dict[str, Any]
    train: Split
    test: Split

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.train.x.shape[1:])

    @property
    def fingerprint(self) -> str:
        """sha256 identifying the data: the metadata with the recorded sha256 of arrays.npz, or,
        for a dataset built in memory without one, with a hash of its tensors."""
        arrays = self.meta.get(INTEGRITY, {}).get("arrays.npz")
        if arrays is None:
            digest = hashlib.sha256()
            for t in (self.train.x, self.train.y, self.test.x, self.test.y):
                digest.update(str((t.dtype, tuple(t.shape))).encode())
                digest.update(t.detach().cpu().contiguous().numpy().tobytes())
            arrays = digest.hexdigest()
        return hashlib.sha256(f"{meta_sha256(self.meta)} {arrays}".encode()).hexdigest()

    def classes(self, which: str) -> list[int]:
        """Original class indices of ``full`` (all), ``source`` or ``target`` classes."""
        if which == "full":
            return list(range(self.meta["n_classes"]))
        key = f"{which}_classes"
        if not self.meta.get(key):
            raise ValueError(f"dataset '{self.meta['name']}' defines no {key}")
        return list(self.meta[key])

    def view(self, which: str, split: str) -> Split:
        """Examples of the chosen classes in one split, labels remapped to 0..len(classes)-1.

        ``split`` is ``train``, ``test`` or ``all`` (both pooled: the target pool for few-shot).
        """
        parts = [self.train, self.test] if split == "all" else [getattr(self, split)]
        x = torch.cat([p.x for p in parts])
        y = torch.cat([p.y for p in parts])
        classes = self.classes(which)
        lookup = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
        lookup[torch.tensor(classes)] = torch.arange(len(classes))
        keep = lookup[y] >= 0
        return Split(x[keep], lookup[y[keep]])


def _normalise(x: np.ndarray, meta: dict[str, Any]) -> torch.Tensor:
    t = torch.from_numpy(x).float() / float(meta.get("scale", 1.0))
    mean, std = meta.get("mean"), meta.get("std")
    if mean is not None:
        shape = (1, -1) + (1,) * (t.dim() - 2)
        t = (t - torch.tensor(mean).view(shape)) / torch.tensor(std).view(shape)
    return t


def _corrupt(path: Path, what: str) -> DataCorruptError:
    return DataCorruptError(
        f"prepared dataset {path}: {what}. Delete the folder {path.parent} and rerun "
        "(Snakemake prepares the dataset again)."
    )


def read_meta(folder: str | Path) -> dict[str, Any]:
    """meta.json of a prepared dataset, its own checksum verified; a missing, unreadable or
    altered file raises :class:`DataCorruptError` naming it."""
    path = Path(folder) / "meta.json"
    if not path.exists():
        raise _corrupt(path, "meta.json is missing")
    try:
        meta = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupt(path, f"not valid JSON ({err})") from None
    if not isinstance(meta, dict) or not all(k in meta for k in ("name", "n_classes")):
        raise _corrupt(path, "not the metadata of a prepared dataset (no name / n_classes)")
    recorded = meta.get(INTEGRITY)
    if recorded is not None and (
        not isinstance(recorded, dict) or recorded.get("meta") != meta_sha256(meta)
    ):
        raise _corrupt(path, "its content does not match the sha256 recorded in it (altered)")
    return meta


def load_prepared(path: str | Path) -> Prepared:
    """Load ``data/prepared/<name>`` into memory, applying the recorded normalisation.

    Both files are verified against the sha256s recorded in meta.json; a dataset prepared before
    checksums were recorded is read unverified (its arrays.npz sha256 is computed here, for
    :attr:`Prepared.fingerprint`). Every failure raises :class:`DataCorruptError` naming the file.
    """
    path = Path(path)
    meta = read_meta(path)
    arrays_path = path / "arrays.npz"
    if not arrays_path.exists():
        raise _corrupt(arrays_path, "arrays.npz is missing")
    actual = sha256_file(arrays_path)
    expected = meta.get(INTEGRITY, {}).get("arrays.npz")
    if expected is not None and actual != expected:
        raise _corrupt(
            arrays_path,
            f"sha256 {actual[:12]}... differs from the {expected[:12]}... recorded in "
            "meta.json (truncated or altered file)",
        )
    meta.setdefault(INTEGRITY, {"arrays.npz": actual, "meta": meta_sha256(meta)})
    try:
        with np.load(arrays_path) as z:
            missing = [k for k in ARRAY_KEYS if k not in z.files]
            if missing:
                raise _corrupt(arrays_path, f"arrays {missing} are missing")
            train = Split(_normalise(z["x_train"], meta), torch.from_numpy(z["y_train"]))
            test = Split(_normalise(z["x_test"], meta), torch.from_numpy(z["y_test"]))
    except DataCorruptError:
        raise
    except Exception as err:  # BadZipFile, EOFError, ValueError, zlib.error, ...
        raise _corrupt(arrays_path, f"unreadable ({type(err).__name__}: {err})") from None
    return Prepared(meta=meta, train=train, test=test)
