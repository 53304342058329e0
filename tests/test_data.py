"""Data preparation: ground-truth metadata, and the real loaders on files in the genuine formats.

Real Fashion-MNIST is used where Debian's ``dataset-fashion-mnist`` is installed; everything else
runs on files fabricated by :mod:`gcnc.study.data.fabricate`, verified through its checksum
manifest.
"""

import gzip
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from gcnc.study.data import (
    DataCorruptError,
    DataNotFoundError,
    availability_errors,
    load_prepared,
    prepare_dataset,
    sources,
)
from gcnc.study.data.fabricate import CIFAR10_NAMES, CIFAR100_FINE, fabricate_raw, main
from gcnc.study.data.torchvision_sets import CIFAR_FS_TEST, CIFAR_FS_VAL

DEBIAN = sources.DEBIAN_FASHION_MNIST
HAS_DEBIAN = all((DEBIAN / f"{s}.gz").exists() for s in sources.IDX_STEMS)
needs_debian = pytest.mark.skipif(
    not HAS_DEBIAN, reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN})"
)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file decoded independently of the loader: header of 16 (images) or 8 bytes."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    offset = 16 if "images" in path.name else 8
    flat = np.frombuffer(data, np.uint8, offset=offset)
    return flat.reshape(-1, 28, 28) if offset == 16 else flat


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
    # normalised with the statistics of the source classes' training images only
    assert digits.meta["normalisation_classes"] == "source"
    assert src.x.mean().abs() < 1e-4 and abs(float(src.x.std()) - 1) < 1e-3


def test_mixture_targets_are_unions_of_source_classes(cfg, tmp_path):
    meta = prepare_dataset("gaussians_mixtures", cfg, tmp_path / "gm")
    assert meta["n_classes"] == 15 and meta["poincare_constants"]["12"] is None
    data = load_prepared(tmp_path / "gm")
    target = data.view("target", "train")
    src_means = [data.train.x[data.train.y == c].mean(0) for c in (4, 5)]
    mixed = target.x[target.y == 2].mean(0)  # class 12 mixes source classes 4 and 5
    assert np.allclose(mixed.numpy(), ((src_means[0] + src_means[1]) / 2).numpy(), atol=0.15)


# ---- real datasets: sources, checksums, provenance -----------------------------------------------

FMNIST_SPEC = {"kind": "fashion_mnist", "source_classes": [0, 1, 2, 3, 4]}


@pytest.fixture
def raw_cfg(cfg, tmp_path, monkeypatch):
    """The study config with an empty raw_dir, no manifest and no Debian files."""
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", tmp_path / "no-debian")
    cfg["data"].update(raw_dir=str(tmp_path / "raw"), prepared_dir=str(tmp_path / "prepared"))
    cfg["data"]["checksum_manifest"] = None
    cfg["datasets"]["fashion_mnist"] = dict(FMNIST_SPEC)
    return cfg


@pytest.fixture(scope="session")
def fab_raw(tmp_path_factory) -> Path:
    """Fabricated raw files of every kind (read-only for the tests) with checksums.json."""
    raw = tmp_path_factory.mktemp("fabricated") / "raw"
    fabricate_raw(raw, ["mnist", "fashion_mnist", "cifar10", "cifar100"])
    fabricate_raw(raw, ["mini_imagenet"], per_class=5, test_per_class=1)
    return raw


@pytest.fixture
def fab_cfg(raw_cfg, fab_raw):
    raw_cfg["data"]["raw_dir"] = str(fab_raw)
    raw_cfg["data"]["checksum_manifest"] = str(fab_raw / "checksums.json")
    return raw_cfg


def _copy_raw(fab_raw: Path, cfg: dict, tmp_path: Path, folder: str) -> Path:
    """A writable copy of one folder of the fabricated files (and the manifest) in raw_dir."""
    raw = tmp_path / "raw"
    shutil.copytree(fab_raw / folder, raw / folder)
    shutil.copy(fab_raw / "checksums.json", raw / "checksums.json")
    cfg["data"].update(raw_dir=str(raw), checksum_manifest=str(raw / "checksums.json"))
    return raw


@pytest.fixture(scope="session")
def real_fmnist(tmp_path_factory):
    """Real Fashion-MNIST prepared once from Debian's directory (raw_dir empty)."""
    if not HAS_DEBIAN:
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({DEBIAN})")
    tmp = tmp_path_factory.mktemp("real_fmnist")
    cfg = {
        "data": {"raw_dir": str(tmp / "raw"), "prepared_dir": str(tmp), "allow_download": False},
        "datasets": {"fashion_mnist": dict(FMNIST_SPEC)},
    }
    meta = prepare_dataset("fashion_mnist", cfg, tmp / "fashion_mnist")
    return meta, tmp / "fashion_mnist"


def test_real_fashion_mnist_from_debian_is_bit_identical(real_fmnist):
    meta, out = real_fmnist
    assert meta["sizes"] == {"train": 60000, "test": 10000}
    assert meta["raw_source"] == {"path": str(DEBIAN), "source": "debian"}
    assert meta["checksums"] == "published"
    assert meta["raw_files"] == {
        f"FashionMNIST/raw/{s}.gz": sha256(DEBIAN / f"{s}.gz") for s in sources.IDX_STEMS
    }
    with np.load(out / "arrays.npz") as z:
        assert np.bincount(z["y_train"]).tolist() == [6000] * 10
        for split, pre in (("train", "train"), ("test", "t10k")):
            x, y = z[f"x_{split}"], z[f"y_{split}"]
            assert x.dtype == np.uint8 and x.shape[1] == 1
            np.testing.assert_array_equal(x[:, 0], read_idx(DEBIAN / f"{pre}-images-idx3-ubyte.gz"))
            np.testing.assert_array_equal(y, read_idx(DEBIAN / f"{pre}-labels-idx1-ubyte.gz"))
        # normalisation: exact integer sums over the source classes' training images
        src = z["x_train"][np.isin(z["y_train"], FMNIST_SPEC["source_classes"])]
    n = src.size
    mean = src.sum(dtype=np.uint64) / n / 255.0
    var = (src.astype(np.uint16) ** 2).sum(dtype=np.uint64) / n / 255.0**2 - mean**2
    assert meta["normalisation_classes"] == "source"
    assert meta["mean"][0] == pytest.approx(mean, abs=1e-12)
    assert meta["std"][0] == pytest.approx(np.sqrt(var) + 1e-8, abs=1e-9)


@needs_debian
def test_raw_dir_comes_first_and_decompressed_files_pass(raw_cfg, tmp_path, real_fmnist):
    folder = Path(raw_cfg["data"]["raw_dir"]) / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for s in sources.IDX_STEMS:  # the original contents, decompressed
        (folder / s).write_bytes(gzip.decompress((DEBIAN / f"{s}.gz").read_bytes()))
    meta = prepare_dataset("fashion_mnist", raw_cfg, tmp_path / "fm")
    assert meta["raw_source"] == {"path": str(folder), "source": "raw_dir"}
    assert meta["raw_files"]["FashionMNIST/raw/t10k-labels-idx1-ubyte"] == sha256(
        folder / "t10k-labels-idx1-ubyte"
    )
    with np.load(tmp_path / "fm" / "arrays.npz") as z, np.load(real_fmnist[1] / "arrays.npz") as r:
        np.testing.assert_array_equal(z["x_test"], r["x_test"])


@needs_debian
def test_corrupt_decompressed_contents_are_rejected(raw_cfg, tmp_path):
    folder = Path(raw_cfg["data"]["raw_dir"]) / "FashionMNIST" / "raw"
    folder.mkdir(parents=True)
    for s in sources.IDX_STEMS:
        shutil.copy(DEBIAN / f"{s}.gz", folder / f"{s}.gz")
    labels = bytearray(gzip.decompress((DEBIAN / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    labels[100] = (labels[100] + 1) % 10  # one label changed: still a valid IDX file
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataCorruptError, match=r"t10k-labels-idx1-ubyte\.gz.*decompressed"):
        prepare_dataset("fashion_mnist", raw_cfg, tmp_path / "fm")
    assert not (tmp_path / "fm").exists()


def test_missing_data_names_the_three_ways(raw_cfg, tmp_path):
    with pytest.raises(DataNotFoundError) as err:
        prepare_dataset("fashion_mnist", raw_cfg, tmp_path / "fm")
    msg = str(err.value)
    assert "FashionMNIST/raw/train-images-idx3-ubyte.gz" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and "allow_download: true" in msg
    with pytest.raises(DataNotFoundError, match=r"MNIST/raw/train-images-idx3-ubyte\.gz"):
        prepare_dataset("mnist", raw_cfg, tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists()


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_mnist_like_from_fabricated_idx(fab_cfg, fab_raw, tmp_path, name):
    meta = prepare_dataset(name, fab_cfg, tmp_path / name)
    folder = fab_raw / sources.IDX_SETS[name]["folder"] / "raw"
    assert meta["input_shape"] == [1, 28, 28] and meta["sizes"] == {"train": 200, "test": 50}
    assert meta["raw_source"] == {"path": str(folder), "source": "raw_dir"}
    assert meta["checksums"] == fab_cfg["data"]["checksum_manifest"]
    assert meta["raw_files"] == {
        f"{folder.parent.name}/raw/{p.name}": sha256(p) for p in folder.iterdir()
    }
    with np.load(tmp_path / name / "arrays.npz") as z:
        np.testing.assert_array_equal(
            z["x_train"][:, 0], read_idx(folder / "train-images-idx3-ubyte.gz")
        )
        np.testing.assert_array_equal(z["y_test"], read_idx(folder / "t10k-labels-idx1-ubyte.gz"))
    assert load_prepared(tmp_path / name).test.x.shape == (50, 1, 28, 28)


def test_normalisation_uses_source_classes_only(fab_cfg, tmp_path):
    meta = prepare_dataset("fashion_mnist", fab_cfg, tmp_path / "fm")
    with np.load(tmp_path / "fm" / "arrays.npz") as z:
        x = z["x_train"].astype(np.float64) / 255.0
        src = x[np.isin(z["y_train"], FMNIST_SPEC["source_classes"])]
    assert len(src) == 100 and meta["normalisation_classes"] == "source"
    assert meta["mean"] == pytest.approx([src.mean()], abs=1e-12)
    assert meta["std"] == pytest.approx([src.std() + 1e-8], abs=1e-12)
    assert abs(meta["mean"][0] - x.mean()) > 1e-3  # all-class statistics would differ
    del fab_cfg["datasets"]["fashion_mnist"]["source_classes"]
    meta = prepare_dataset("fashion_mnist", fab_cfg, tmp_path / "fm_all")
    assert meta["normalisation_classes"] == "all"
    assert meta["mean"] == pytest.approx([x.mean()], abs=1e-12)


@pytest.mark.parametrize(
    "name, bad",
    [("mnist", "train-images-idx3-ubyte.gz"), ("cifar10", "data_batch_1"), ("cifar_fs", "train")],
)
def test_fabricated_files_pass_only_with_the_manifest(fab_cfg, tmp_path, name, bad):
    prepare_dataset(name, fab_cfg, tmp_path / "ok")
    fab_cfg["data"]["checksum_manifest"] = None
    with pytest.raises(DataCorruptError, match=rf"{bad} does not match its published md5"):
        prepare_dataset(name, fab_cfg, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()


def test_manifest_mismatch_names_the_file(fab_cfg, fab_raw, tmp_path):
    raw = _copy_raw(fab_raw, fab_cfg, tmp_path, "MNIST")
    bad = raw / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    labels = bytearray(gzip.decompress(bad.read_bytes()))
    labels[20] = (labels[20] + 1) % 10
    bad.write_bytes(gzip.compress(bytes(labels)))
    with pytest.raises(DataCorruptError, match=r"t10k-labels-idx1-ubyte\.gz.*checksum manifest"):
        prepare_dataset("mnist", fab_cfg, tmp_path / "mnist")
    bad.write_bytes(bad.read_bytes()[:-3])  # truncated download
    with pytest.raises(DataCorruptError, match=r"t10k-labels-idx1-ubyte\.gz"):
        prepare_dataset("mnist", fab_cfg, tmp_path / "mnist")
    assert not (tmp_path / "mnist").exists() and not list(tmp_path.glob(".mnist.*"))


def test_cifar10_from_fabricated_pickles(fab_cfg, fab_raw, tmp_path):
    meta = prepare_dataset("cifar10", fab_cfg, tmp_path / "c10")
    assert meta["class_names"] == CIFAR10_NAMES and meta["sizes"] == {"train": 200, "test": 50}
    assert len(meta["raw_files"]) == 7
    with np.load(tmp_path / "c10" / "arrays.npz") as z:
        path = fab_raw / "cifar-10-batches-py" / "data_batch_1"
        batch = pickle.loads(path.read_bytes(), encoding="latin1")
        np.testing.assert_array_equal(z["x_train"][0], batch["data"][0].reshape(3, 32, 32))
        assert z["y_train"][: len(batch["labels"])].tolist() == batch["labels"]


def test_cifar_fs_splits_real_cifar100_names_64_16_20(fab_cfg, tmp_path):
    assert len(CIFAR100_FINE) == 100 and sorted(set(CIFAR100_FINE)) == CIFAR100_FINE
    meta = prepare_dataset("cifar_fs", fab_cfg, tmp_path / "fs")
    names = meta["class_names"]
    assert names == CIFAR100_FINE
    assert [len(meta[f"{k}_classes"]) for k in ("source", "val", "target")] == [64, 16, 20]
    assert [names[i] for i in meta["target_classes"]] == CIFAR_FS_TEST
    assert [names[i] for i in meta["val_classes"]] == CIFAR_FS_VAL
    assert meta["normalisation_classes"] == "source"
    assert load_prepared(tmp_path / "fs").view("target", "all").y.max() == 19


def test_mini_imagenet_from_fabricated_image_folder(fab_cfg, fab_raw, tmp_path):
    meta = prepare_dataset("mini_imagenet", fab_cfg, tmp_path / "mi")
    assert meta["input_shape"] == [3, 84, 84] and meta["n_classes"] == 100
    assert meta["source_classes"] == list(range(64)) and meta["target_classes"][0] == 80
    assert meta["sizes"] == {"train": 500, "test": 100}  # every sixth image of a class is test
    assert meta["checksums"] == fab_cfg["data"]["checksum_manifest"]
    raw = _copy_raw(fab_raw, fab_cfg, tmp_path, "mini_imagenet")
    image = raw / "mini_imagenet" / "images" / "n9900008000000002.jpg"
    image.write_bytes(image.read_bytes()[:-10])
    with pytest.raises(DataCorruptError, match=r"n9900008000000002\.jpg does not match the md5"):
        prepare_dataset("mini_imagenet", fab_cfg, tmp_path / "mi2")
    fab_cfg["data"]["checksum_manifest"] = None  # no published checksums: not verified
    with pytest.raises(DataCorruptError, match=r"n9900008000000002\.jpg cannot be read"):
        prepare_dataset("mini_imagenet", fab_cfg, tmp_path / "mi2")
    image.unlink()
    with pytest.raises(DataNotFoundError, match="n9900008000000002.jpg"):
        prepare_dataset("mini_imagenet", fab_cfg, tmp_path / "mi4")


def test_per_class_subsampling(fab_cfg, tmp_path):
    fab_cfg["datasets"]["fashion_mnist"].update(train_per_class=7, test_per_class=2, seed=3)
    meta = prepare_dataset("fashion_mnist", fab_cfg, tmp_path / "a")
    assert meta["sizes"] == {"train": 70, "test": 20}
    prepare_dataset("fashion_mnist", fab_cfg, tmp_path / "b")
    with np.load(tmp_path / "a" / "arrays.npz") as a, np.load(tmp_path / "b" / "arrays.npz") as b:
        assert np.bincount(a["y_train"]).tolist() == [7] * 10
        np.testing.assert_array_equal(a["x_train"], b["x_train"])


def test_fabricate_cli_and_no_overwrite_of_real_files(tmp_path, capsys):
    main([str(tmp_path / "raw"), "--kinds", "mnist", "--per-class", "2", "--test-per-class", "1"])
    manifest = Path(capsys.readouterr().out.strip())
    assert manifest == tmp_path / "raw" / "checksums.json"
    listed = json.loads(manifest.read_text())
    assert sorted(listed) == sorted(f"MNIST/raw/{s}.gz" for s in sources.IDX_STEMS)
    fabricate_raw(tmp_path / "raw", ["mnist"], per_class=3)  # its own files: rewritten
    real = tmp_path / "raw" / "cifar-10-batches-py" / "data_batch_1"
    real.parent.mkdir()
    real.write_bytes(b"real data")
    with pytest.raises(FileExistsError, match="data_batch_1"):
        fabricate_raw(tmp_path / "raw", ["cifar10"])


def test_availability_errors(raw_cfg, fab_raw, tmp_path, monkeypatch):
    names = ["digits", "mnist", "fashion_mnist", "cifar_fs", "mini_imagenet"]
    errors = availability_errors(raw_cfg, names)
    assert len(errors) == 4 and "dataset 'fashion_mnist'" in errors[1]
    assert "apt-get install dataset-fashion-mnist" in errors[1] and "allow_download" in errors[1]
    raw_cfg["data"]["allow_download"] = True
    assert [e.split(":")[0] for e in availability_errors(raw_cfg, names)] == [
        "dataset 'mini_imagenet'"
    ]
    raw_cfg["data"]["allow_download"] = False
    debian = tmp_path / "debian"  # path checks only: empty files will do
    debian.mkdir()
    for s in sources.IDX_STEMS:
        (debian / f"{s}.gz").touch()
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", debian)
    prepared = Path(raw_cfg["data"]["prepared_dir"]) / "mnist"
    prepared.mkdir(parents=True)
    (prepared / "meta.json").write_text("{}")
    assert len(availability_errors(raw_cfg, names)) == 2  # cifar_fs, mini_imagenet
    raw_cfg["data"]["raw_dir"] = str(fab_raw)
    assert availability_errors(raw_cfg, names) == []
