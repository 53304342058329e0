"""Reading and writing prepared datasets, and the task views used by pretraining and transfer.

On disk: ``<dir>/arrays.npz`` (x_train, y_train, x_test, y_test as stored: uint8 images or float32
vectors) and ``<dir>/meta.json`` (classes, source/target split, input normalisation, known
Poincare constants). Writes are atomic: a failed preparation leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch


def write_prepared(out_dir: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write arrays.npz and meta.json into ``out_dir`` atomically (temp dir, then rename)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        np.savez(tmp / "arrays.npz", **arrays)
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


def load_prepared(path: str | Path) -> Prepared:
    """Load ``data/prepared/<name>`` into memory, applying the recorded normalisation."""
    path = Path(path)
    meta = json.loads((path / "meta.json").read_text())
    with np.load(path / "arrays.npz") as z:
        train = Split(_normalise(z["x_train"], meta), torch.from_numpy(z["y_train"]))
        test = Split(_normalise(z["x_test"], meta), torch.from_numpy(z["y_test"]))
    return Prepared(meta=meta, train=train, test=test)
