"""Small raw files in the genuine on-disk formats, and a checksum manifest that vouches for them.

``fabricate_raw(raw_dir, kinds)`` writes, in torchvision's layout under ``raw_dir``:

- ``mnist`` / ``fashion_mnist``: the four gzipped IDX files in ``MNIST/raw`` / ``FashionMNIST/raw``;
- ``cifar10`` / ``cifar100``: the python-version pickles (batches and meta file with the real class
  names) in ``cifar-10-batches-py/`` / ``cifar-100-python/`` (CIFAR-FS is read from CIFAR-100);
- ``mini_imagenet``: ``mini_imagenet/{train,val,test}.csv`` and ``images/*.jpg``, 64/16/20 classes;

and ``checksums.json`` (merged with one already there): ``{path relative to raw_dir: md5}``, to be
named in ``data.checksum_manifest`` so that the real loaders verify these files. Images are a
class-specific smooth pattern plus noise, so a network can learn the classes. For CI runs of a
shrunken preset; never a stand-in for the real data in a reported result.

Command line: ``python -m gcnc.study.data.fabricate RAW_DIR --kinds cifar10 cifar100`` prints the
manifest's path.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import pickle
import struct
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from gcnc.study.data.sources import CIFAR_SETS, IDX_SETS

KINDS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "mini_imagenet")
MANIFEST = "checksums.json"

CIFAR10_NAMES = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
]  # fmt: skip
# CIFAR-100's 20 superclasses (coarse labels) with their 5 classes each; both lists, sorted, are
# the label orders of the real meta file.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ["beaver", "dolphin", "otter", "seal", "whale"],
    "fish": ["aquarium_fish", "flatfish", "ray", "shark", "trout"],
    "flowers": ["orchid", "poppy", "rose", "sunflower", "tulip"],
    "food_containers": ["bottle", "bowl", "can", "cup", "plate"],
    "fruit_and_vegetables": ["apple", "mushroom", "orange", "pear", "sweet_pepper"],
    "household_electrical_devices": ["clock", "keyboard", "lamp", "telephone", "television"],
    "household_furniture": ["bed", "chair", "couch", "table", "wardrobe"],
    "insects": ["bee", "beetle", "butterfly", "caterpillar", "cockroach"],
    "large_carnivores": ["bear", "leopard", "lion", "tiger", "wolf"],
    "large_man-made_outdoor_things": ["bridge", "castle", "house", "road", "skyscraper"],
    "large_natural_outdoor_scenes": ["cloud", "forest", "mountain", "plain", "sea"],
    "large_omnivores_and_herbivores": ["camel", "cattle", "chimpanzee", "elephant", "kangaroo"],
    "medium_mammals": ["fox", "porcupine", "possum", "raccoon", "skunk"],
    "non-insect_invertebrates": ["crab", "lobster", "snail", "spider", "worm"],
    "people": ["baby", "boy", "girl", "man", "woman"],
    "reptiles": ["crocodile", "dinosaur", "lizard", "snake", "turtle"],
    "small_mammals": ["hamster", "mouse", "rabbit", "shrew", "squirrel"],
    "trees": ["maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"],
    "vehicles_1": ["bicycle", "bus", "motorcycle", "pickup_truck", "train"],
    "vehicles_2": ["lawn_mower", "rocket", "streetcar", "tank", "tractor"],
}
CIFAR100_COARSE = sorted(CIFAR100_SUPERCLASSES)
CIFAR100_FINE = sorted(n for names in CIFAR100_SUPERCLASSES.values() for n in names)
MINI_SPLIT_SIZES = {"train": 64, "val": 16, "test": 20}


def _class_images(
    rng: np.random.Generator, n_classes: int, counts: Iterable[int], shape: tuple[int, ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each count: (uint8 images, labels), ``count`` per class in shuffled order.

    Class c's images are its smooth mean pattern (a coarse random grid, upsampled) plus noise.
    """
    *lead, h, w = shape
    coarse = rng.uniform(40, 215, (n_classes, *lead, -(-h // 4), -(-w // 4))).astype(np.float32)
    means = np.repeat(np.repeat(coarse, 4, axis=-2), 4, axis=-1)[..., :h, :w]
    out = []
    for count in counts:
        y = rng.permutation(np.repeat(np.arange(n_classes), count))
        x = rng.standard_normal((len(y), *shape), dtype=np.float32)
        x *= 30.0
        x += means[y]
        np.clip(x, 0, 255, out=x)
        out.append((x.astype(np.uint8), y.astype(np.int64)))
    return out


class _Files:
    """Writes files under ``raw_dir`` and records their md5s in the manifest.

    A file already there that the manifest does not list (real data) is never overwritten.
    """

    def __init__(self, raw_dir: Path, manifest: dict[str, str]) -> None:
        self.raw_dir, self.manifest = raw_dir, manifest

    def put(self, rel: str, data: bytes) -> None:
        path = self.raw_dir / rel
        if rel not in self.manifest and path.exists():
            raise FileExistsError(
                f"{path} exists and is not a fabricated file listed in {MANIFEST}: refusing to "
                "overwrite it (real data?). Fabricate into another raw_dir."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.manifest[rel] = hashlib.md5(data).hexdigest()


def gzip_bytes(payload: bytes) -> bytes:
    """``payload`` gzipped deterministically (no time stamp, no file name in the header)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0) as gz:
        gz.write(payload)
    return buf.getvalue()


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes (magic 0x0800 + ndim, big-endian dims, the values)."""
    header = struct.pack(f">I{array.ndim}I", 0x800 + array.ndim, *array.shape)
    return header + array.astype(np.uint8).tobytes()


def _mnist_like(files: _Files, kind: str, rng: np.random.Generator, counts: list[int]) -> None:
    folder = f"{IDX_SETS[kind]['folder']}/raw"
    for prefix, (x, y) in zip(
        ("train", "t10k"), _class_images(rng, 10, counts, (28, 28)), strict=True
    ):
        files.put(f"{folder}/{prefix}-images-idx3-ubyte.gz", gzip_bytes(idx_bytes(x)))
        files.put(f"{folder}/{prefix}-labels-idx1-ubyte.gz", gzip_bytes(idx_bytes(y)))


def _cifar_batch(x: np.ndarray, y: np.ndarray, label: str, keys: dict[str, list]) -> bytes:
    names = [f"fabricated_{label.replace(' ', '_')}_{i:05d}.png" for i in range(len(y))]
    batch = {"batch_label": label, "data": x.reshape(len(x), -1), "filenames": names, **keys}
    return pickle.dumps(batch, protocol=2)


def _cifar10(files: _Files, rng: np.random.Generator, counts: list[int]) -> None:
    spec = CIFAR_SETS["cifar10"]
    folder = spec["folder"]
    (x, y), (xt, yt) = _class_images(rng, 10, counts, (3, 32, 32))
    parts = np.array_split(np.arange(len(y)), len(spec["train"]))
    for i, (fname, idx) in enumerate(zip(spec["train"], parts, strict=True), 1):
        keys = {"labels": y[idx].tolist()}
        files.put(
            f"{folder}/{fname}", _cifar_batch(x[idx], y[idx], f"training batch {i} of 5", keys)
        )
    keys = {"labels": yt.tolist()}
    files.put(f"{folder}/test_batch", _cifar_batch(xt, yt, "testing batch 1 of 1", keys))
    meta = {"label_names": CIFAR10_NAMES, "num_cases_per_batch": len(parts[0]), "num_vis": 3072}
    files.put(f"{folder}/{spec['meta'][0]}", pickle.dumps(meta, protocol=2))


def _cifar100(files: _Files, rng: np.random.Generator, counts: list[int]) -> None:
    folder = CIFAR_SETS["cifar100"]["folder"]
    coarse_of = {f: CIFAR100_COARSE.index(c) for c, fs in CIFAR100_SUPERCLASSES.items() for f in fs}
    to_coarse = np.array([coarse_of[n] for n in CIFAR100_FINE])
    splits = _class_images(rng, 100, counts, (3, 32, 32))
    for fname, (x, y) in zip(("train", "test"), splits, strict=True):
        keys = {"fine_labels": y.tolist(), "coarse_labels": to_coarse[y].tolist()}
        files.put(f"{folder}/{fname}", _cifar_batch(x, y, f"{fname}ing batch 1 of 1", keys))
    meta = {"fine_label_names": CIFAR100_FINE, "coarse_label_names": CIFAR100_COARSE}
    files.put(f"{folder}/meta", pickle.dumps(meta, protocol=2))


def _mini_imagenet(files: _Files, rng: np.random.Generator, counts: list[int]) -> None:
    from PIL import Image

    n_classes = sum(MINI_SPLIT_SIZES.values())
    # every sixth image of a class is a test image in the loader's 5:1 split
    ((x, y),) = _class_images(rng, n_classes, [sum(counts)], (3, 84, 84))
    wnids = [f"n99{c:06d}" for c in range(n_classes)]
    first = 0
    for split, size in MINI_SPLIT_SIZES.items():
        lines = ["filename,label"]
        for c in range(first, first + size):
            for i, j in enumerate(np.flatnonzero(y == c)):
                fname = f"{wnids[c]}{i + 1:08d}.jpg"
                buf = io.BytesIO()
                Image.fromarray(x[j].transpose(1, 2, 0)).save(buf, format="JPEG", quality=95)
                files.put(f"mini_imagenet/images/{fname}", buf.getvalue())
                lines.append(f"{fname},{wnids[c]}")
        files.put(f"mini_imagenet/{split}.csv", ("\n".join(lines) + "\n").encode())
        first += size


WRITERS = {
    "mnist": lambda f, r, c: _mnist_like(f, "mnist", r, c),
    "fashion_mnist": lambda f, r, c: _mnist_like(f, "fashion_mnist", r, c),
    "cifar10": _cifar10,
    "cifar100": _cifar100,
    "mini_imagenet": _mini_imagenet,
}


def fabricate_raw(
    raw_dir: str | Path,
    kinds: Iterable[str] = KINDS,
    *,
    per_class: int = 20,
    test_per_class: int = 5,
    seed: int = 0,
) -> Path:
    """Write fabricated raw files of ``kinds`` under ``raw_dir``; returns the manifest's path.

    ``per_class`` training and ``test_per_class`` test images per class (mini-ImageNet: their
    sum per class, split 5:1 by the loader). Deterministic for a given ``seed``.
    """
    raw_dir = Path(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = raw_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    files = _Files(raw_dir, manifest)
    for kind in kinds:
        if kind not in WRITERS:
            raise ValueError(f"cannot fabricate '{kind}'; kinds: {', '.join(KINDS)}")
        rng = np.random.default_rng([seed, KINDS.index(kind)])
        WRITERS[kind](files, rng, [per_class, test_per_class])
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest_path


def main(argv: list[str] | None = None) -> None:
    """``python -m gcnc.study.data.fabricate RAW_DIR [--kinds ...]``: print the manifest's path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw_dir", type=Path)
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--per-class", type=int, default=20)
    parser.add_argument("--test-per-class", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(
        fabricate_raw(
            args.raw_dir,
            args.kinds,
            per_class=args.per_class,
            test_per_class=args.test_per_class,
            seed=args.seed,
        )
    )


if __name__ == "__main__":
    main()
