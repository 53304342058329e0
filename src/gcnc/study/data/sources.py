"""Where the raw files of the real datasets are, their published checksums, and how to get them.

This module imports neither torchvision nor PIL: :mod:`gcnc.study.data.availability` uses it at
Snakemake parse time. The md5s are those torchvision publishes (of the .gz files for MNIST and of
the pickles for CIFAR); for Fashion-MNIST the md5s of the DECOMPRESSED IDX files are known too, so
its check runs on decompressed contents and accepts Debian's recompressed ``.gz`` files as well as
the originals. A checksum manifest (``data.checksum_manifest``: JSON ``{path relative to raw_dir:
md5 of the file as stored}``) replaces the published md5 of the files it lists.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Debian's package ``dataset-fashion-mnist`` installs the four original files here (read-only).
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

IDX_STEMS = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

# kind -> torchvision folder name, md5 of the published .gz, md5 of the decompressed file
IDX_SETS: dict[str, dict[str, Any]] = {
    "mnist": {
        "folder": "MNIST",
        "gz_md5": {
            "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "raw_md5": {},
    },
    "fashion_mnist": {
        "folder": "FashionMNIST",
        "gz_md5": {
            "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "raw_md5": {
            "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
            "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
            "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
            "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
        },
    },
}

# kind -> extracted folder, archive (name, md5), files {name: md5} in load order, meta file, keys
CIFAR_SETS: dict[str, dict[str, Any]] = {
    "cifar10": {
        "folder": "cifar-10-batches-py",
        "archive": ("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),
        "train": {
            "data_batch_1": "c99cafc152244af753f735de768cd75f",
            "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
            "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
            "data_batch_4": "634d18415352ddfa80567beed471001a",
            "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        },
        "test": {"test_batch": "40351d587109b95175f43aff81a1287e"},
        "meta": ("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
        "label_key": "labels",
        "names_key": "label_names",
    },
    "cifar100": {
        "folder": "cifar-100-python",
        "archive": ("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85"),
        "train": {"train": "16019d7e3df5f24257cddd939b257f8d"},
        "test": {"test": "f0ef6b0ae62326f3e7ffdfab6717acfc"},
        "meta": ("meta", "7973b15100ade9c7d40fb424638fde48"),
        "label_key": "fine_labels",
        "names_key": "fine_label_names",
    },
}
CIFAR_OF_KIND = {"cifar10": "cifar10", "cifar100": "cifar100", "cifar_fs": "cifar100"}
MINI_IMAGENET_FILES = ("train.csv", "val.csv", "test.csv", "images")
SYNTHETIC_KINDS = frozenset({"digits", "gaussians", "uniform_boxes"})


@dataclass
class RawConfig:
    """The ``data`` section of the study config, as the raw-data loaders need it."""

    raw_dir: Path
    allow_download: bool = False
    manifest: dict[str, str] = field(default_factory=dict)
    manifest_path: str | None = None

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> RawConfig:
        """Read ``raw_dir``, ``allow_download`` and the optional ``checksum_manifest``."""
        path = data.get("checksum_manifest")
        manifest: dict[str, str] = {}
        if path:
            listed = json.loads(Path(path).read_text())
            manifest = {str(k): str(v).lower() for k, v in listed.items()}
        return cls(Path(data["raw_dir"]), bool(data.get("allow_download", False)), manifest, path)

    def override(self, key: str) -> str | None:
        """The manifest's md5 for ``key`` (a path relative to raw_dir), if it lists one."""
        return self.manifest.get(key)


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_files(folder: Path) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (``.gz`` preferred, else decompressed), or None."""
    found: dict[str, Path] = {}
    for stem in IDX_STEMS:
        gz, plain = folder / f"{stem}.gz", folder / stem
        if gz.exists():
            found[stem] = gz
        elif plain.exists():
            found[stem] = plain
        else:
            return None
    return found


def idx_candidates(kind: str, raw_dir: Path) -> list[tuple[str, Path]]:
    """(source name, folder) of an IDX dataset, in the order they are tried."""
    out = [("raw_dir", raw_dir / IDX_SETS[kind]["folder"] / "raw")]
    if kind == "fashion_mnist":
        out.append(("debian", DEBIAN_FASHION_MNIST))
    return out


def find_idx(kind: str, raw_dir: Path) -> tuple[str, Path, dict[str, Path]] | None:
    """The first source holding all four IDX files of ``kind``: (source, folder, files)."""
    for source, folder in idx_candidates(kind, raw_dir):
        files = idx_files(folder)
        if files is not None:
            return source, folder, files
    return None


def cifar_present(kind: str, raw_dir: Path) -> bool:
    """All extracted CIFAR files, or the archive, are in ``raw_dir``."""
    spec = CIFAR_SETS[CIFAR_OF_KIND[kind]]
    names = [*spec["train"], *spec["test"], spec["meta"][0]]
    folder = raw_dir / spec["folder"]
    return all((folder / n).exists() for n in names) or (raw_dir / spec["archive"][0]).exists()


def raw_available(kind: str, raw: RawConfig) -> bool:
    """Whether the raw files of ``kind`` can be found or downloaded (path checks only)."""
    if kind in SYNTHETIC_KINDS:
        return True
    if kind in IDX_SETS:
        return raw.allow_download or find_idx(kind, raw.raw_dir) is not None
    if kind in CIFAR_OF_KIND:
        return raw.allow_download or cifar_present(kind, raw.raw_dir)
    if kind == "mini_imagenet":
        return all((raw.raw_dir / "mini_imagenet" / n).exists() for n in MINI_IMAGENET_FILES)
    raise ValueError(f"unknown dataset kind: {kind}")


def how_to_get(name: str, kind: str, raw_dir: Path) -> str:
    """What to do so that dataset ``name`` of ``kind`` can be prepared (the ways, numbered)."""
    if kind in IDX_SETS:
        folder = raw_dir / IDX_SETS[kind]["folder"] / "raw"
        files = ", ".join(f"{s}.gz" for s in IDX_STEMS)
        ways = [f"put the four IDX files ({files}; .gz or decompressed) under {folder}/"]
        if kind == "fashion_mnist":
            ways.append(
                "install Debian's package: apt-get install dataset-fashion-mnist (as root; it "
                f"puts them in {DEBIAN_FASHION_MNIST})"
            )
    elif kind in CIFAR_OF_KIND:
        spec = CIFAR_SETS[CIFAR_OF_KIND[kind]]
        ways = [
            f"put the extracted folder {spec['folder']}/ (python version) or the archive "
            f"{spec['archive'][0]} into {raw_dir}/"
        ]
    else:
        return (
            f"dataset '{name}': mini-ImageNet cannot be downloaded automatically: put the Ravi & "
            f"Larochelle split CSVs (filename,label) and the images/ folder into "
            f"{raw_dir / 'mini_imagenet'}/."
        )
    ways.append("set data.allow_download: true in params.yaml (needs a network)")
    listing = "\n".join(f"  ({i}) {w}" for i, w in enumerate(ways, 1))
    return f"dataset '{name}': no raw files found. Ways to get them:\n{listing}"


def verify_file(
    name: str,
    path: Path,
    key: str,
    stored: bytes,
    raw: RawConfig | None,
    published: str | None,
    content: bytes | None = None,
) -> bool:
    """Check one raw file read into memory; True when the checksum manifest's md5 was used.

    ``key`` is the file's path relative to raw_dir (the manifest's key; None-``raw`` for files
    outside raw_dir, where no manifest applies). The manifest md5 is of the file as stored;
    ``published`` is of ``content`` (decompressed) when that is given, else of the stored bytes.
    A mismatch raises :class:`DataCorruptError` naming the file.
    """
    from gcnc.study.data.errors import DataCorruptError

    override = raw.override(key) if raw is not None else None
    if override is not None:
        if md5_bytes(stored) != override:
            raise DataCorruptError(
                f"dataset '{name}': {path} does not match the md5 {override} listed for {key} in "
                f"the checksum manifest {raw.manifest_path} (corrupt file or stale manifest)."
            )
        return True
    if published is None:
        raise DataCorruptError(
            f"dataset '{name}': no published checksum for {path}: put the original .gz file "
            "there, or list the file's md5 in a data.checksum_manifest."
        )
    data = stored if content is None else content
    if md5_bytes(data) != published:
        what = " of the decompressed contents" if content is not None else ""
        raise DataCorruptError(
            f"dataset '{name}': {path} does not match its published md5{what} {published} "
            "(corrupt or partial file). Delete it and fetch it again."
        )
    return False
