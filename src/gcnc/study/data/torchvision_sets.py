"""MNIST, Fashion-MNIST, CIFAR-10/100 and CIFAR-FS from their original files (torchvision layout).

The files are read and checked here, not by torchvision's dataset classes (torchvision is only
used to download, with ``data.allow_download``): IDX files are parsed with numpy, CIFAR's python
pickles unpickled. Every file is checked against its published md5 (see
:mod:`gcnc.study.data.sources`; a checksum manifest may replace it) before it is used: a wrong
checksum
gives a :class:`DataCorruptError` naming the file; no source gives a :class:`DataNotFoundError`
saying the ways to get the data. Sources tried, in order: ``raw_dir``, Debian's
``/usr/share/datasets/fashion-mnist`` (Fashion-MNIST only), a download.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import NoReturn

import numpy as np

from gcnc.idx import IdxError, parse_idx
from gcnc.study.data import sources
from gcnc.study.data.errors import DataCorruptError, DataNotFoundError
from gcnc.study.data.sources import (
    CIFAR_SETS,
    IDX_SETS,
    IDX_STEMS,
    RawConfig,
    sha256_bytes,
    verify_file,
)

# CIFAR-FS (Bertinetto et al., ICLR 2019): CIFAR-100 classes split 64/16/20.
# CIFAR-FS's class lists (Bertinetto et al., 2019, as torchmeta ships them); the 64 source classes
# are the remaining ones.
CIFAR_FS_VAL = [
    "beaver", "otter", "flatfish", "shark", "lamp", "television", "beetle", "butterfly",
    "sea", "camel", "cattle", "crab", "crocodile", "maple_tree", "motorcycle", "tractor",
]  # fmt: skip
CIFAR_FS_TEST = [
    "whale", "poppy", "rose", "sweet_pepper", "telephone", "bed", "table", "wardrobe", "leopard",
    "plain", "chimpanzee", "fox", "snail", "worm", "baby", "man", "woman", "bicycle",
    "pickup_truck", "rocket",
]  # fmt: skip

# fmt: off
CLASS_NAMES = {  # as torchvision's MNIST.classes and FashionMNIST.classes
    "mnist": [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    ],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
}
# fmt: on


def _download(kind: str, raw_dir: Path) -> None:
    from torchvision import datasets

    cls = {
        "mnist": datasets.MNIST,
        "fashion_mnist": datasets.FashionMNIST,
        "cifar10": datasets.CIFAR10,
        "cifar100": datasets.CIFAR100,
    }[kind]
    cls(str(raw_dir), train=True, download=True)


def _not_found(name: str, kind: str, raw_dir: Path, folder: Path, names: list[str]) -> NoReturn:
    missing = [str(folder / n) for n in names if not (folder / n).exists()]
    listing = "\n  ".join(missing)
    raise DataNotFoundError(
        f"{sources.how_to_get(name, kind, raw_dir)}\nMissing in raw_dir:\n  {listing}"
    )


def _mnist_like(name: str, kind: str, raw: RawConfig) -> tuple[dict, dict]:
    spec = IDX_SETS[kind]
    found = sources.find_idx(kind, raw.raw_dir)
    if found is None and raw.allow_download:
        _download(kind, raw.raw_dir)
        found = sources.find_idx(kind, raw.raw_dir)
        if found is not None:
            found = ("download", found[1], found[2])
    if found is None:
        folder = raw.raw_dir / spec["folder"] / "raw"
        _not_found(name, kind, raw.raw_dir, folder, [f"{s}.gz" for s in IDX_STEMS])
    source, folder, files = found
    in_raw_dir = source != "debian"
    parsed: dict[str, np.ndarray] = {}
    raw_files: dict[str, str] = {}
    used_manifest = False
    for stem, path in files.items():
        key = f"{spec['folder']}/raw/{path.name}"
        stored = path.read_bytes()
        try:
            content = gzip.decompress(stored) if path.suffix == ".gz" else stored
        except (OSError, EOFError, zlib.error) as err:
            raise DataCorruptError(
                f"dataset '{name}': {path} is not a readable gzip file ({err}). "
                "Delete it and fetch it again."
            ) from err
        if stem in spec["raw_md5"]:
            published, checked = spec["raw_md5"][stem], content
        elif path.suffix == ".gz":
            published, checked = spec["gz_md5"][stem], None
        else:
            published, checked = None, None
        used_manifest |= verify_file(
            name, path, key, stored, raw if in_raw_dir else None, published, checked
        )
        raw_files[key] = sha256_bytes(stored)
        try:
            parsed[stem] = parse_idx(content, path, name)
        except IdxError as err:
            raise DataCorruptError(str(err)) from None
    arrays = {
        "x_train": parsed["train-images-idx3-ubyte"][:, None],
        "y_train": parsed["train-labels-idx1-ubyte"].astype(np.int64),
        "x_test": parsed["t10k-images-idx3-ubyte"][:, None],
        "y_test": parsed["t10k-labels-idx1-ubyte"].astype(np.int64),
    }
    for split in ("train", "test"):
        if len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise DataCorruptError(f"dataset '{name}': {split} images and labels differ in number")
    meta = {
        "n_classes": 10,
        "class_names": CLASS_NAMES[kind],
        "scale": 255.0,
        "raw_source": {"path": str(folder), "source": source},
        "raw_files": raw_files,
        "checksums": raw.manifest_path if used_manifest else "published",
    }
    return arrays, meta


def _extract(name: str, archive: Path, md5: str, raw: RawConfig) -> None:
    verify_file(name, archive, archive.name, archive.read_bytes(), raw, md5)
    with tarfile.open(archive) as tar:
        tar.extractall(raw.raw_dir, filter="data")


def _cifar(name: str, kind: str, raw: RawConfig) -> tuple[dict, dict]:
    spec = CIFAR_SETS[kind]
    folder = raw.raw_dir / spec["folder"]
    published = {**spec["train"], **spec["test"], spec["meta"][0]: spec["meta"][1]}
    source = "raw_dir"
    if not all((folder / f).exists() for f in published):
        archive = raw.raw_dir / spec["archive"][0]
        if archive.exists():
            _extract(name, archive, spec["archive"][1], raw)
            source = "archive"
        elif raw.allow_download:
            _download(kind, raw.raw_dir)
            source = "download"
        else:
            _not_found(name, kind, raw.raw_dir, folder, list(published))
    stored: dict[str, bytes] = {}
    used_manifest = False
    for fname, md5 in published.items():
        stored[fname] = (folder / fname).read_bytes()
        key = f"{spec['folder']}/{fname}"
        used_manifest |= verify_file(name, folder / fname, key, stored[fname], raw, md5)
    arrays: dict[str, np.ndarray] = {}
    for split in ("train", "test"):
        batches = [pickle.loads(stored[f], encoding="latin1") for f in spec[split]]
        x = np.concatenate([np.asarray(b["data"], np.uint8) for b in batches])
        arrays[f"x_{split}"] = np.ascontiguousarray(x.reshape(-1, 3, 32, 32))
        arrays[f"y_{split}"] = np.concatenate(
            [np.asarray(b[spec["label_key"]], np.int64) for b in batches]
        )
    names = list(pickle.loads(stored[spec["meta"][0]], encoding="latin1")[spec["names_key"]])
    meta = {
        "n_classes": len(names),
        "class_names": names,
        "scale": 255.0,
        "raw_source": {"path": str(folder), "source": source},
        "raw_files": {f"{spec['folder']}/{f}": sha256_bytes(b) for f, b in stored.items()},
        "checksums": raw.manifest_path if used_manifest else "published",
    }
    return arrays, meta


def load_torchvision(kind: str, raw: RawConfig, name: str | None = None) -> tuple[dict, dict]:
    """Arrays (uint8 NCHW images, int64 labels) and metadata of a torchvision dataset kind."""
    name = name or kind
    if kind in IDX_SETS:
        return _mnist_like(name, kind, raw)
    if kind in CIFAR_SETS:
        return _cifar(name, kind, raw)
    if kind == "cifar_fs":
        arrays, meta = _cifar(name, "cifar100", raw)
        names = meta["class_names"]
        unknown = sorted(set(CIFAR_FS_VAL + CIFAR_FS_TEST) - set(names))
        if unknown:
            raise DataCorruptError(f"dataset '{name}': CIFAR-100 meta lacks classes {unknown}")
        held_out = set(CIFAR_FS_VAL) | set(CIFAR_FS_TEST)
        meta["source_classes"] = [i for i, n in enumerate(names) if n not in held_out]
        meta["val_classes"] = [names.index(n) for n in CIFAR_FS_VAL]
        meta["target_classes"] = [names.index(n) for n in CIFAR_FS_TEST]
        return arrays, meta
    raise ValueError(f"not a torchvision dataset kind: {kind}")
