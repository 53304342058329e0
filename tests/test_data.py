"""Data preparation: ground-truth metadata, and the real loaders on files in the genuine formats."""

import gzip
import hashlib
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from torchvision import datasets

from gcnc.data import DataCorruptError, DataNotFoundError, load_prepared, prepare_dataset
from gcnc.data.torchvision_sets import CIFAR_FS_TEST, CIFAR_FS_VAL


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_gaussians_record_exact_poincare_constants(gaussians, config):
    spec = config["datasets"]["gaussians"]
    lo, hi = spec["variance_range"]
    consts = gaussians.meta["poincare_constants"]
    assert len(consts) == spec["n_classes"]
    assert all(lo <= c <= hi for c in consts.values())
    # the sample covariance of class 0 has top eigenvalue close to the recorded constant
    x = gaussians.train.x[gaussians.train.y == 0].double().numpy()
    lam = np.linalg.eigvalsh(np.cov(x.T)).max()
    assert lam == pytest.approx(consts["0"], rel=0.15)


def test_uniform_boxes_constant_is_side_over_pi_squared(prepared_dir):
    data = load_prepared(prepared_dir / "uniform_boxes")
    for c, side in enumerate(data.meta["sides"]):
        xc = data.train.x[data.train.y == c].numpy()
        assert np.ptp(xc, axis=0).max() <= side + 1e-5
        assert data.meta["poincare_constants"][str(c)] == pytest.approx((side / np.pi) ** 2)


def test_task_views_remap_labels(digits):
    src = digits.view("source", "train")
    assert sorted(src.y.unique().tolist()) == [0, 1, 2, 3, 4]
    tgt = digits.view("target", "all")
    assert len(tgt.y) == int((digits.train.y >= 5).sum() + (digits.test.y >= 5).sum())
    assert digits.train.x.mean().abs() < 1e-4 and abs(float(digits.train.x.std()) - 1) < 1e-3


def test_mixture_targets_are_unions_of_source_classes(cfg, tmp_path):
    meta = prepare_dataset("gaussians_mixtures", cfg, tmp_path / "gm")
    assert meta["n_classes"] == 15 and meta["poincare_constants"]["12"] is None
    data = load_prepared(tmp_path / "gm")
    target = data.view("target", "train")
    src_means = [data.train.x[data.train.y == c].mean(0) for c in (4, 5)]
    mixed = target.x[target.y == 2].mean(0)  # class 12 mixes source classes 4 and 5
    assert np.allclose(mixed.numpy(), ((src_means[0] + src_means[1]) / 2).numpy(), atol=0.15)


# ---- torchvision datasets from files in their genuine on-disk formats ----------------------------


def _write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes())


@pytest.fixture
def raw_cfg(cfg, tmp_path):
    cfg["data"]["raw_dir"] = str(tmp_path / "raw")
    return cfg


def _mnist_files(raw: Path, cls, monkeypatch, rng) -> dict:
    folder = raw / cls.__name__ / "raw"
    arrays = {}
    for prefix, n in (("train", 40), ("t10k", 20)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        _write_idx(folder, prefix, images, labels)
        arrays[prefix] = (images, labels)
    monkeypatch.setattr(cls, "resources", [(f, md5(folder / f)) for f, _ in cls.resources])
    return arrays


@pytest.mark.parametrize(
    "name, cls", [("mnist", datasets.MNIST), ("fashion_mnist", datasets.FashionMNIST)]
)
def test_mnist_like_from_idx_files(raw_cfg, tmp_path, monkeypatch, name, cls):
    arrays = _mnist_files(
        Path(raw_cfg["data"]["raw_dir"]), cls, monkeypatch, np.random.default_rng(0)
    )
    meta = prepare_dataset(name, raw_cfg, tmp_path / name)
    data = load_prepared(tmp_path / name)
    assert meta["input_shape"] == [1, 28, 28] and meta["n_classes"] == 10
    with np.load(tmp_path / name / "arrays.npz") as z:
        np.testing.assert_array_equal(z["x_train"][:, 0], arrays["train"][0])
        np.testing.assert_array_equal(z["y_test"], arrays["t10k"][1])
    assert data.test.x.shape == (20, 1, 28, 28)


def test_missing_files_name_what_to_put_where(raw_cfg, tmp_path):
    with pytest.raises(DataNotFoundError, match=r"MNIST/raw/train-images-idx3-ubyte\.gz"):
        prepare_dataset("mnist", raw_cfg, tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()


def test_checksum_mismatch_names_the_file(raw_cfg, tmp_path, monkeypatch):
    raw = Path(raw_cfg["data"]["raw_dir"])
    _mnist_files(raw, datasets.MNIST, monkeypatch, np.random.default_rng(0))
    bad = raw / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:-3])  # truncated download
    with pytest.raises(DataCorruptError, match="t10k-labels-idx1-ubyte.gz"):
        prepare_dataset("mnist", raw_cfg, tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()
    assert not list(tmp_path.glob(".mnist.*"))  # no half-written temp folder either


def _write_cifar(raw: Path, cls, monkeypatch, names: list[str], label_key: str, rng) -> dict:
    folder = raw / cls.base_folder
    folder.mkdir(parents=True)
    meta_key = cls.meta["key"]
    with open(folder / cls.meta["filename"], "wb") as fh:
        pickle.dump({meta_key: names}, fh)
    written = {}
    for fname, _ in [*cls.train_list, *cls.test_list]:
        n = 2 * len(names)
        data = rng.integers(0, 256, (n, 3072)).astype(np.uint8)
        labels = list(np.arange(n) % len(names))
        with open(folder / fname, "wb") as fh:
            pickle.dump({"data": data, label_key: labels, "batch_label": fname}, fh)
        written[fname] = (data, labels)
    monkeypatch.setattr(cls, "train_list", [[f, md5(folder / f)] for f, _ in cls.train_list])
    monkeypatch.setattr(cls, "test_list", [[f, md5(folder / f)] for f, _ in cls.test_list])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5(folder / cls.meta["filename"])})
    return written


def test_cifar10_from_python_pickles(raw_cfg, tmp_path, monkeypatch):
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    written = _write_cifar(
        Path(raw_cfg["data"]["raw_dir"]),
        datasets.CIFAR10,
        monkeypatch,
        names,
        "labels",
        np.random.default_rng(1),
    )
    meta = prepare_dataset("cifar10", raw_cfg, tmp_path / "c10")
    assert meta["class_names"] == names and meta["sizes"] == {"train": 100, "test": 20}
    with np.load(tmp_path / "c10" / "arrays.npz") as z:
        first = written["data_batch_1"][0][0].reshape(3, 32, 32)
        np.testing.assert_array_equal(z["x_train"][0], first)


def test_cifar_fs_splits_cifar100_64_16_20(raw_cfg, tmp_path, monkeypatch):
    rest = [f"class_{i:02d}" for i in range(64)]
    names = sorted(rest + CIFAR_FS_VAL + CIFAR_FS_TEST)
    _write_cifar(
        Path(raw_cfg["data"]["raw_dir"]),
        datasets.CIFAR100,
        monkeypatch,
        names,
        "fine_labels",
        np.random.default_rng(2),
    )
    meta = prepare_dataset("cifar_fs", raw_cfg, tmp_path / "fs")
    assert (len(meta["source_classes"]), len(meta["val_classes"]), len(meta["target_classes"])) == (
        64,
        16,
        20,
    )
    assert {names[i] for i in meta["target_classes"]} == set(CIFAR_FS_TEST)
    assert not set(meta["source_classes"]) & set(meta["target_classes"])
    data = load_prepared(tmp_path / "fs")
    assert data.view("target", "all").y.max() == 19


def test_mini_imagenet_from_image_folder(raw_cfg, tmp_path):
    folder = Path(raw_cfg["data"]["raw_dir"]) / "mini_imagenet"
    (folder / "images").mkdir(parents=True)
    rng = np.random.default_rng(3)
    splits = {"train": ["n01", "n02"], "val": ["n03"], "test": ["n04", "n05"]}
    for split, wnids in splits.items():
        lines = ["filename,label"]
        for w in wnids:
            for i in range(6):
                fname = f"{w}{i:08d}.jpg"
                Image.fromarray(rng.integers(0, 256, (50, 40, 3), dtype=np.uint8)).save(
                    folder / "images" / fname
                )
                lines.append(f"{fname},{w}")
        (folder / f"{split}.csv").write_text("\n".join(lines) + "\n")
    meta = prepare_dataset("mini_imagenet", raw_cfg, tmp_path / "mi")
    assert meta["input_shape"] == [3, 84, 84]
    assert meta["source_classes"] == [0, 1] and meta["target_classes"] == [3, 4]
    assert meta["sizes"] == {"train": 25, "test": 5}  # every sixth image of a class is test
    (folder / "images" / "n0400000002.jpg").unlink()
    with pytest.raises(DataNotFoundError, match="n0400000002.jpg"):
        prepare_dataset("mini_imagenet", raw_cfg, tmp_path / "mi2")
