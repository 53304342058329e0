"""What ``gcnc measure`` reads: a data set (IDX files, an image folder, a ``.npz``) and a network
(a torchvision model with its weights, or a run of this project's study), each refused with an
error naming the argument and the file when it cannot be read.

Images (IDX files, an ImageFolder, uint8 arrays) are scaled to [0, 1]; ``normalize`` then
standardises each channel with the data's own mean and std (``data``), ImageNet's (``imagenet``,
what torchvision's pretrained weights expect) or not at all (``none``).
"""

from __future__ import annotations

import difflib
import gzip
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IDX_PREFIX = {"train": "train", "test": "t10k"}


class MeasureInputError(ValueError):
    """A MODEL, DATA or option that ``gcnc measure`` cannot use; the message names it."""


def _idx(folder: Path, stem: str) -> Any:
    from gcnc.data.torchvision_sets import parse_idx  # NumPy only

    for path in (folder / f"{stem}.gz", folder / stem):
        if path.exists():
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            return parse_idx(raw, path, "DATA")
    raise MeasureInputError(f"DATA: {folder} has no {stem}[.gz]")


def _scaled(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def load_dataset(path: str, split: str, image_size: int | None) -> tuple[Dataset, str]:
    """The (input, label) pairs of ``path`` before normalisation, and what they are."""
    p = Path(path)
    if p.suffix == ".npz" and p.is_file():
        import numpy as np

        with np.load(p) as arrays:
            if not {"x", "y"} <= set(arrays.files):
                raise MeasureInputError(f"DATA: {p} holds {arrays.files}, expected arrays x and y")
            x, y = torch.from_numpy(arrays["x"]), torch.from_numpy(arrays["y"])
        return TensorDataset(_resized(_scaled(x), image_size), y), f"{p} (npz, {len(y)} examples)"
    if p.is_dir() and any(p.glob("*-images-idx3-ubyte*")):
        prefix = IDX_PREFIX[split]
        x = torch.from_numpy(_idx(p, f"{prefix}-images-idx3-ubyte"))[:, None]
        y = torch.from_numpy(_idx(p, f"{prefix}-labels-idx1-ubyte")).long()
        data = TensorDataset(_resized(_scaled(x), image_size), y)
        return data, f"{p} (IDX, {split} split, {len(y)} examples)"
    if p.is_dir():
        from torchvision import datasets, transforms

        steps = [transforms.Resize((image_size, image_size))] if image_size else []
        try:
            folder = datasets.ImageFolder(p, transforms.Compose([*steps, transforms.ToTensor()]))
        except (FileNotFoundError, RuntimeError) as err:
            raise MeasureInputError(f"DATA: {p} is not an image folder ({err})") from None
        return folder, f"{p} (image folder, {len(folder)} images, {len(folder.classes)} classes)"
    raise MeasureInputError(
        f"DATA: {p} is not a .npz file, a folder of IDX files or a folder of class subfolders"
    )


def _resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None:
        return x
    if x.dim() != 4:
        raise MeasureInputError(f"--image-size: the inputs are not images (shape {tuple(x.shape)})")
    return nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)


def subsample(data: Dataset, max_examples: int | None, seed: int) -> Dataset:
    """A random subset of ``max_examples`` examples (all of them when None or more)."""
    if max_examples is None or max_examples >= len(data):  # type: ignore[arg-type]
        return data
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))  # type: ignore[arg-type]
    return Subset(data, order[:max_examples].tolist())


class Normalised(Dataset):
    """``data`` with its inputs repeated to ``channels`` channels (one-channel images, for a
    network that takes more) and standardised per channel: (x - mean) / std."""

    def __init__(self, data: Dataset, mean: torch.Tensor, std: torch.Tensor, channels: int) -> None:
        self.data, self.mean, self.std, self.channels = data, mean, std, channels

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        x, y = self.data[index]
        if x.dim() == 3 and x.shape[0] == 1 and self.channels > 1:
            x = x.expand(self.channels, *x.shape[1:])
        shape = (-1,) + (1,) * (x.dim() - 1)
        return (x - self.mean.view(shape)) / self.std.view(shape), y


def channel_stats(data: Dataset, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the inputs of ``data`` (channel = axis 1 of a batch), from
    per-batch means and centred sums of squares merged in float64 (Chan et al.'s update, as in
    :mod:`gcnc.metrics.streaming`)."""
    count, mean, m2 = 0, torch.zeros(()), torch.zeros(())
    for x, _ in DataLoader(data, batch_size=batch_size):
        flat = x.double().transpose(0, 1).reshape(x.shape[1] if x.dim() > 1 else 1, -1)
        n_b, mean_b = flat.shape[1], flat.mean(1)
        delta, total = mean_b - mean, count + n_b
        mean = mean + delta * n_b / total
        m2 = m2 + (flat - mean_b[:, None]).pow(2).sum(1) + delta.pow(2) * count * n_b / total
        count = total
    std = (m2 / count).sqrt()
    return mean.float(), torch.where(std > 0, std, torch.ones_like(std)).float()


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the first ``nn.Conv2d`` of ``model`` (None without one)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def _load(path: Path, what: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated zip, pickle garbage, another format
        raise MeasureInputError(f"{what}: cannot read {path} ({type(err).__name__})") from None


def _state_dict(loaded: Any, path: Path, what: str) -> dict[str, torch.Tensor]:
    """The state dict in a weights file: the file itself, or its ``model`` / ``state_dict``."""
    for key in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not (isinstance(loaded, dict) and all(isinstance(v, torch.Tensor) for v in loaded.values())):
        raise MeasureInputError(f"{what}: {path} holds no state dict")
    return loaded


def _classes_of(state: dict[str, torch.Tensor], path: Path) -> int:
    """The output size of the last 2-D weight of a state dict (the classifier's)."""
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2]
    if not weights:
        raise MeasureInputError(f"--weights: {path} has no 2-D weight (no linear classifier)")
    return int(weights[-1].shape[0])


def _run_folder(path: Path) -> Path | None:
    """The study run folder of ``path`` (the folder, its final.pt, or a checkpoint)."""
    for folder in (path, path.parent, path.parent.parent):
        if (folder / "config.json").is_file():
            return folder
    return None


def load_study_model(path: Path, input_shape: tuple[int, ...]) -> tuple[nn.Module, str]:
    """A run of this project's study: its architecture from config.json, the number of classes
    from the head's weights, the weights from final.pt or the checkpoint given."""
    from gcnc.models import build_model

    folder = _run_folder(path)
    if folder is None:
        raise MeasureInputError(
            f"MODEL: {path} is not in a study run folder (no config.json beside it); for a "
            "torchvision model give its name and --weights"
        )
    weights = path if path.is_file() else folder / "final.pt"
    try:
        run = json.loads((folder / "config.json").read_text())["run"]
    except (OSError, ValueError, KeyError) as err:
        raise MeasureInputError(f"MODEL: {folder / 'config.json'} is unreadable ({err})") from None
    state = _state_dict(_load(weights, "MODEL"), weights, "MODEL")
    if "head.weight" not in state:
        raise MeasureInputError(f"MODEL: {weights} has no head.weight (not a gcnc model)")
    n_classes = int(state["head.weight"].shape[0])
    try:
        model = build_model(run["arch"], input_shape, n_classes, **run.get("model", {}))
    except ImportError:
        raise MeasureInputError(
            f"MODEL: {run['arch']} needs torchvision (pip install 'gcnc[vision]')"
        ) from None
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise MeasureInputError(f"MODEL: {weights} does not fit {run['arch']}: {err}") from None
    return model, f"{run['arch']} from {weights}"


def load_torchvision_model(name: str, weights: str | None, seed: int) -> tuple[nn.Module, str]:
    """torchvision's ``name`` with ``weights``: a file holding a state dict (the number of
    classes read from it), a torchvision weights name (downloaded by torchvision), or None
    (random weights drawn with ``seed``, so that a rerun measures the same network)."""
    try:
        from torchvision import models
    except ImportError:
        raise MeasureInputError(
            "MODEL: a torchvision model needs torchvision (pip install 'gcnc[vision]')"
        ) from None
    if name not in models.list_models():
        near = difflib.get_close_matches(name, models.list_models(), n=3)
        raise MeasureInputError(
            f"MODEL: '{name}' is neither a study run nor a torchvision model"
            + (f" (did you mean {', '.join(near)}?)" if near else "")
        )
    if weights is None:
        torch.manual_seed(seed)
        return models.get_model(name), f"{name} (torchvision, random weights, seed {seed})"
    path = Path(weights)
    if not path.is_file():
        try:
            return models.get_model(name, weights=weights), f"{name} (torchvision, {weights})"
        except (ValueError, KeyError) as err:
            raise MeasureInputError(
                f"--weights: '{weights}' is neither a file nor a weights name of {name} ({err})"
            ) from None
        except OSError as err:  # no network to download them
            raise MeasureInputError(f"--weights: cannot download {weights} ({err})") from None
    state = _state_dict(_load(path, "--weights"), path, "--weights")
    model = models.get_model(name, num_classes=_classes_of(state, path))
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise MeasureInputError(f"--weights: {path} does not fit {name}: {err}") from None
    return model, f"{name} (torchvision) with {path}"
