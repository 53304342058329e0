"""MNIST, Fashion-MNIST, CIFAR-10/100 and CIFAR-FS through torchvision's dataset classes.

The files expected under ``raw_dir`` are torchvision's own layout. Before anything is loaded,
every file is checked against the md5 that torchvision publishes for it: a missing file gives a
:class:`DataNotFoundError` listing what to put where; a wrong checksum gives a
:class:`DataCorruptError` naming the file. Downloads happen only with ``allow_download``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torchvision import datasets
from torchvision.datasets.utils import check_integrity, extract_archive

from gcnc.data.errors import DataCorruptError, DataNotFoundError

# CIFAR-FS (Bertinetto et al., ICLR 2019): CIFAR-100 classes split 64/16/20.
# Lists from shared/paper_reference.md Section 4; the 64 source classes are the remaining ones.
CIFAR_FS_VAL = [
    "beaver",
    "otter",
    "flatfish",
    "shark",
    "lamp",
    "television",
    "beetle",
    "butterfly",
    "sea",
    "camel",
    "cattle",
    "crab",
    "crocodile",
    "maple_tree",
    "motorcycle",
    "tractor",
]
CIFAR_FS_TEST = [
    "whale",
    "poppy",
    "rose",
    "sweet_pepper",
    "telephone",
    "bed",
    "table",
    "wardrobe",
    "leopard",
    "plain",
    "chimpanzee",
    "fox",
    "snail",
    "worm",
    "baby",
    "man",
    "woman",
    "bicycle",
    "pickup_truck",
    "rocket",
]

MNIST_LIKE = {"mnist": datasets.MNIST, "fashion_mnist": datasets.FashionMNIST}
CIFAR = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}


def _verify(files: list[tuple[Path, str]], name: str, hint: str) -> None:
    missing = [p for p, _ in files if not p.exists()]
    if missing:
        listing = "\n  ".join(str(p) for p in missing)
        raise DataNotFoundError(
            f"dataset '{name}': missing raw files (no network download allowed):\n  {listing}\n"
            f"{hint}\nPut the original files there (torchvision layout), or set "
            f"data.allow_download: true in params.yaml where a network exists."
        )
    for path, md5 in files:
        if not check_integrity(str(path), md5):
            raise DataCorruptError(
                f"dataset '{name}': {path} does not match its published md5 {md5} "
                f"(corrupt or partial file). Delete it and fetch it again."
            )


def _mnist_like(name: str, raw_dir: Path, allow_download: bool) -> tuple[dict, dict]:
    cls = MNIST_LIKE[name]
    folder = raw_dir / cls.__name__ / "raw"
    files = [(folder / fname, md5) for fname, md5 in cls.resources]
    if allow_download and not all(p.exists() for p, _ in files):
        cls(str(raw_dir), train=True, download=True)
    _verify(files, name, f"Expected the four IDX .gz files of {cls.__name__} in {folder}.")
    for path, _ in files:
        if not path.with_suffix("").exists():
            extract_archive(str(path), str(folder))
    arrays: dict[str, np.ndarray] = {}
    for split, train in (("train", True), ("test", False)):
        ds = cls(str(raw_dir), train=train, download=False)
        arrays[f"x_{split}"] = ds.data.numpy()[:, None].astype(np.uint8)
        arrays[f"y_{split}"] = ds.targets.numpy().astype(np.int64)
    return arrays, {"n_classes": len(cls.classes), "class_names": list(cls.classes), "scale": 255.0}


def _cifar_files(cls: type, raw_dir: Path) -> list[tuple[Path, str]]:
    folder = raw_dir / cls.base_folder
    entries = [*cls.train_list, *cls.test_list, [cls.meta["filename"], cls.meta["md5"]]]
    return [(folder / fname, md5) for fname, md5 in entries]


def _cifar(name: str, raw_dir: Path, allow_download: bool) -> tuple[dict, dict]:
    cls = CIFAR[name]
    files = _cifar_files(cls, raw_dir)
    archive = raw_dir / cls.filename
    if not all(p.exists() for p, _ in files):
        if archive.exists():
            _verify([(archive, cls.tgz_md5)], name, "")
            extract_archive(str(archive), str(raw_dir))
        elif allow_download:
            cls(str(raw_dir), train=True, download=True)
    _verify(
        files, name, f"Expected {cls.base_folder}/ (or the archive {archive.name}) in {raw_dir}."
    )
    arrays: dict[str, np.ndarray] = {}
    for split, train in (("train", True), ("test", False)):
        ds = cls(str(raw_dir), train=train, download=False)
        arrays[f"x_{split}"] = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2)).astype(np.uint8)
        arrays[f"y_{split}"] = np.asarray(ds.targets, dtype=np.int64)
    return arrays, {"n_classes": len(ds.classes), "class_names": list(ds.classes), "scale": 255.0}


def load_torchvision(kind: str, raw_dir: Path, allow_download: bool) -> tuple[dict, dict]:
    """Arrays (uint8 NCHW images, int64 labels) and metadata for a torchvision dataset kind."""
    if kind in MNIST_LIKE:
        return _mnist_like(kind, raw_dir, allow_download)
    if kind in CIFAR:
        return _cifar(kind, raw_dir, allow_download)
    if kind == "cifar_fs":
        arrays, meta = _cifar("cifar100", raw_dir, allow_download)
        names = meta["class_names"]
        unknown = sorted(set(CIFAR_FS_VAL + CIFAR_FS_TEST) - set(names))
        if unknown:
            raise DataCorruptError(f"dataset 'cifar_fs': CIFAR-100 meta lacks classes {unknown}")
        held_out = set(CIFAR_FS_VAL) | set(CIFAR_FS_TEST)
        meta["source_classes"] = [i for i, n in enumerate(names) if n not in held_out]
        meta["val_classes"] = [names.index(n) for n in CIFAR_FS_VAL]
        meta["target_classes"] = [names.index(n) for n in CIFAR_FS_TEST]
        return arrays, meta
    raise ValueError(f"not a torchvision dataset kind: {kind}")
