"""mini-ImageNet (Ravi & Larochelle 2017) from user-supplied images: 64/16/20 class split.

Expected layout under ``<raw_dir>/mini_imagenet/``: ``train.csv``, ``val.csv``, ``test.csv`` with
header ``filename,label`` (label = WordNet id), and ``images/<filename>``. Source classes are the
train split, target classes the test split. Each class's images are split 5:1 into train/test
deterministically so the pretraining has a held-out test set.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gcnc.data.errors import DataNotFoundError

SPLITS = ("train", "val", "test")


def _read_split(folder: Path, split: str) -> list[tuple[str, str]]:
    with open(folder / f"{split}.csv", newline="") as fh:
        return [(row["filename"], row["label"]) for row in csv.DictReader(fh)]


def load_mini_imagenet(raw_dir: Path, spec: dict[str, Any]) -> tuple[dict, dict]:
    folder = raw_dir / "mini_imagenet"
    expected = [folder / f"{s}.csv" for s in SPLITS] + [folder / "images"]
    missing = [p for p in expected if not p.exists()]
    if missing:
        raise DataNotFoundError(
            "dataset 'mini_imagenet': missing " + ", ".join(str(p) for p in missing) + ". "
            "mini-ImageNet cannot be downloaded automatically: put the Ravi & Larochelle split "
            f"CSVs (filename,label) and the images/ folder into {folder}."
        )
    rows = {s: _read_split(folder, s) for s in SPLITS}
    absent = [f for s in SPLITS for f, _ in rows[s] if not (folder / "images" / f).exists()]
    if absent:
        raise DataNotFoundError(
            f"dataset 'mini_imagenet': {len(absent)} images listed in the CSVs are missing from "
            f"{folder / 'images'}, e.g. {absent[:3]}"
        )
    wnids: list[str] = []
    for s in SPLITS:
        wnids += sorted({label for _, label in rows[s]} - set(wnids))
    index = {w: i for i, w in enumerate(wnids)}
    size = spec.get("image_size", 84)
    images, labels, is_test = [], [], []
    for s in SPLITS:
        seen: dict[str, int] = {}
        for fname, label in rows[s]:
            with Image.open(folder / "images" / fname) as im:
                im = im.convert("RGB").resize((size, size), Image.BILINEAR)
                images.append(np.asarray(im).transpose(2, 0, 1))
            labels.append(index[label])
            seen[label] = seen.get(label, 0) + 1
            is_test.append(seen[label] % 6 == 0)  # every sixth image of a class: 5:1 split
    x, y, t = np.stack(images).astype(np.uint8), np.asarray(labels, np.int64), np.asarray(is_test)
    arrays = {"x_train": x[~t], "y_train": y[~t], "x_test": x[t], "y_test": y[t]}
    n_tr, n_va = (len({lab for _, lab in rows[s]}) for s in ("train", "val"))
    meta = {
        "n_classes": len(wnids),
        "class_names": wnids,
        "scale": 255.0,
        "source_classes": list(range(n_tr)),
        "val_classes": list(range(n_tr, n_tr + n_va)),
        "target_classes": list(range(n_tr + n_va, len(wnids))),
    }
    return arrays, meta
