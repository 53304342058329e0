"""mini-ImageNet (Ravi & Larochelle 2017) from user-supplied images: 64/16/20 class split.

Expected layout under ``<raw_dir>/mini_imagenet/``: ``train.csv``, ``val.csv``, ``test.csv`` with
header ``filename,label`` (label = WordNet id), and ``images/<filename>``. Source classes are the
train split, target classes the test split. Each class's images are split 5:1 into train/test
deterministically so the pretraining has a held-out test set.

mini-ImageNet has no published checksums: files listed in a checksum manifest
(``data.checksum_manifest``, keys such as ``mini_imagenet/train.csv`` or
``mini_imagenet/images/<filename>``) are checked, others are not (meta ``checksums``: ``none``).
``raw_files`` records the sha256 of each CSV and one sha256 over the images' (name, sha256) list.
"""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from gcnc.study.data.errors import DataCorruptError, DataNotFoundError
from gcnc.study.data.sources import RawConfig, how_to_get, sha256_bytes, verify_file

SPLITS = ("train", "val", "test")


def _read(path: Path, raw: RawConfig, used: list[bool]) -> bytes:
    """The bytes of a raw file, checked against the manifest when it lists the file."""
    data = path.read_bytes()
    key = path.relative_to(raw.raw_dir).as_posix()
    if raw.override(key) is not None:
        used.append(verify_file("mini_imagenet", path, key, data, raw, None))
    return data


def load_mini_imagenet(raw: RawConfig, spec: dict[str, Any]) -> tuple[dict, dict]:
    """Arrays (uint8 NCHW at ``image_size``) and metadata with the 64/16/20 class split."""
    folder = raw.raw_dir / "mini_imagenet"
    expected = [folder / f"{s}.csv" for s in SPLITS] + [folder / "images"]
    missing = [p for p in expected if not p.exists()]
    if missing:
        raise DataNotFoundError(
            how_to_get("mini_imagenet", "mini_imagenet", raw.raw_dir)
            + " Missing: "
            + ", ".join(str(p) for p in missing)
        )
    used: list[bool] = []
    raw_files: dict[str, str] = {}
    rows: dict[str, list[tuple[str, str]]] = {}
    for s in SPLITS:
        text = _read(folder / f"{s}.csv", raw, used)
        raw_files[f"mini_imagenet/{s}.csv"] = sha256_bytes(text)
        reader = csv.DictReader(io.StringIO(text.decode("utf-8"), newline=""))
        rows[s] = [(row["filename"], row["label"]) for row in reader]
    absent = [f for s in SPLITS for f, _ in rows[s] if not (folder / "images" / f).exists()]
    if absent:
        raise DataNotFoundError(
            f"dataset 'mini_imagenet': {len(absent)} images listed in the CSVs are missing from "
            f"{folder / 'images'}, e.g. {absent[:3]}"
        )
    digest = hashlib.sha256()
    wnids: list[str] = []
    for s in SPLITS:
        wnids += sorted({label for _, label in rows[s]} - set(wnids))
    index = {w: i for i, w in enumerate(wnids)}
    size = spec.get("image_size", 84)
    images, labels, is_test = [], [], []
    for s in SPLITS:
        seen: dict[str, int] = {}
        for fname, label in rows[s]:
            data = _read(folder / "images" / fname, raw, used)
            digest.update(f"{fname}\t{sha256_bytes(data)}\n".encode())
            try:
                with Image.open(io.BytesIO(data)) as im:
                    im = im.convert("RGB").resize((size, size), Image.BILINEAR)
                    images.append(np.asarray(im).transpose(2, 0, 1))
            except (OSError, SyntaxError, ValueError) as err:
                raise DataCorruptError(
                    f"dataset 'mini_imagenet': {folder / 'images' / fname} cannot be read as an "
                    f"image ({err})"
                ) from err
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
        "raw_source": {"path": str(folder), "source": "raw_dir"},
        "raw_files": {**raw_files, "mini_imagenet/images/": digest.hexdigest()},
        "checksums": raw.manifest_path if used else "none",
    }
    return arrays, meta
