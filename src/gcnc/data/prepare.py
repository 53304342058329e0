"""Dispatch from a dataset spec of the study config to its builder, and the prepared-data writer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gcnc.data.prepared import write_prepared
from gcnc.data.synthetic import make_gaussians, make_uniform_boxes


def _channel_stats(x: np.ndarray, scale: float) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of the training images (after dividing by ``scale``)."""
    axes = (0,) + tuple(range(2, x.ndim))
    xs = x.astype(np.float64) / scale
    return xs.mean(axis=axes).tolist(), (xs.std(axis=axes) + 1e-8).tolist()


def build_dataset(name: str, spec: dict[str, Any], raw_dir: Path, allow_download: bool):
    """Arrays and metadata of one dataset of the config (nothing written).

    The readers of real data (scikit-learn, PIL, torchvision) are imported here, on demand, so
    that importing :mod:`gcnc.data` for a training job does not pay for them (about 2 s).
    """
    kind = spec["kind"]
    if kind == "digits":
        from gcnc.data.digits import make_digits

        arrays, meta = make_digits(spec)
    elif kind == "gaussians":
        arrays, meta = make_gaussians(spec)
    elif kind == "uniform_boxes":
        arrays, meta = make_uniform_boxes(spec)
    elif kind == "mini_imagenet":
        from gcnc.data.mini_imagenet import load_mini_imagenet

        arrays, meta = load_mini_imagenet(raw_dir, spec)
    else:
        from gcnc.data.torchvision_sets import load_torchvision

        arrays, meta = load_torchvision(kind, raw_dir, allow_download)
    meta.update({"name": name, "kind": kind, "spec": spec})
    for key in ("source_classes", "target_classes"):
        if key in spec:
            meta[key] = list(spec[key])
    if arrays["x_train"].dtype == np.uint8:  # images: standardise each channel on the train split
        meta["mean"], meta["std"] = _channel_stats(arrays["x_train"], meta["scale"])
    meta["input_shape"] = list(arrays["x_train"].shape[1:])
    meta["sizes"] = {s: int(arrays[f"y_{s}"].shape[0]) for s in ("train", "test")}
    return arrays, meta


def prepare_dataset(name: str, config: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Prepare dataset ``name`` of the study config into ``out_dir``; returns its metadata."""
    arrays, meta = build_dataset(
        name,
        config["datasets"][name],
        Path(config["data"]["raw_dir"]),
        config["data"]["allow_download"],
    )
    write_prepared(Path(out_dir), arrays, meta)
    return meta
