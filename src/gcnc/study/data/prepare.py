"""Dispatch from a dataset spec of the study config to its builder, and the prepared-data writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gcnc.study.data.prepared import write_prepared
from gcnc.study.data.sources import RawConfig
from gcnc.study.data.synthetic import make_gaussians, make_uniform_boxes

_CHUNK = 4096  # images per chunk of the float64 statistics (bounded memory on large datasets)


def _channel_stats(x: np.ndarray, scale: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of images ``x`` (N, C, ...) after dividing by ``scale``.

    Two passes over chunks in float64, so the memory stays small for CIFAR or mini-ImageNet.
    """
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.shape[0] * int(np.prod(x.shape[2:]))
    total = np.zeros(x.shape[1])
    for i in range(0, len(x), _CHUNK):
        total += (x[i : i + _CHUNK].astype(np.float64) / scale).sum(axis=axes)
    mean = total / count
    shape = (1, -1) + (1,) * (x.ndim - 2)
    sq = np.zeros(x.shape[1])
    for i in range(0, len(x), _CHUNK):
        d = x[i : i + _CHUNK].astype(np.float64) / scale - mean.reshape(shape)
        sq += (d * d).sum(axis=axes)
    return mean.tolist(), (np.sqrt(sq / count) + 1e-8).tolist()


def _normalisation(arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Record mean/std of the training images: of the source classes only when defined.

    Statistics over all classes would leak the target classes of a transfer experiment into the
    input normalisation of the pretrained network.
    """
    x, y = arrays["x_train"], arrays["y_train"]
    source = meta.get("source_classes")
    if source:
        x = x[np.isin(y, np.asarray(source))]
    meta["mean"], meta["std"] = _channel_stats(x, meta["scale"])
    meta["normalisation_classes"] = "source" if source else "all"


def _subsample(arrays: dict[str, np.ndarray], spec: dict[str, Any]) -> None:
    """Keep ``<split>_per_class`` examples of each class: the first ones of a seeded shuffle.

    The kept examples stay in their original order; a class with fewer keeps all of them.
    """
    for i, split in enumerate(("train", "test")):
        k = spec.get(f"{split}_per_class")
        if k is None:
            continue
        y = arrays[f"y_{split}"]
        order = np.random.default_rng([spec.get("seed", 0), i]).permutation(len(y))
        keep = np.zeros(len(y), dtype=bool)
        for c in np.unique(y):
            keep[order[y[order] == c][:k]] = True
        arrays[f"x_{split}"], arrays[f"y_{split}"] = arrays[f"x_{split}"][keep], y[keep]


def build_dataset(name: str, spec: dict[str, Any], data: dict[str, Any]):
    """Arrays and metadata of one dataset of the config (nothing written).

    ``data`` is the config's ``data`` section (raw_dir, allow_download, checksum_manifest).
    The readers of real data (scikit-learn, PIL, torchvision) are imported here, on demand, so
    that importing :mod:`gcnc.study.data` for a training job does not pay for them (about 2 s).
    """
    kind = spec["kind"]
    raw = RawConfig.from_config(data)
    if kind == "digits":
        from gcnc.study.data.digits import make_digits

        arrays, meta = make_digits(spec)
    elif kind == "gaussians":
        arrays, meta = make_gaussians(spec)
    elif kind == "uniform_boxes":
        arrays, meta = make_uniform_boxes(spec)
    elif kind == "mini_imagenet":
        from gcnc.study.data.mini_imagenet import load_mini_imagenet

        arrays, meta = load_mini_imagenet(raw, spec)
    else:
        from gcnc.study.data.torchvision_sets import load_torchvision

        arrays, meta = load_torchvision(kind, raw, name)
    _subsample(arrays, spec)
    meta.update({"name": name, "kind": kind, "spec": spec})
    for key in ("source_classes", "target_classes"):
        if key in spec:
            meta[key] = list(spec[key])
    if arrays["x_train"].dtype == np.uint8:  # images: standardise each channel on the train split
        _normalisation(arrays, meta)
    meta["input_shape"] = list(arrays["x_train"].shape[1:])
    meta["sizes"] = {s: int(arrays[f"y_{s}"].shape[0]) for s in ("train", "test")}
    return arrays, meta


def prepare_dataset(name: str, config: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Prepare dataset ``name`` of the study config into ``out_dir``; returns its metadata."""
    arrays, meta = build_dataset(name, config["datasets"][name], config["data"])
    write_prepared(Path(out_dir), arrays, meta)
    return meta
