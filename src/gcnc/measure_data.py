"""The DATA of ``gcnc measure``: a ``.npz`` with arrays x and y, a folder of IDX files or an image
folder, checked as it is read, so that every problem ends in one line naming the file.

- Integer pixels (any integer dtype) are scaled to [0, 1] by the range they fit: 255 when every
  value is in 0..255 (8-bit images, whatever the dtype they are stored in), 65535 in 0..65535
  (16-bit), else their maximum; the data's description says which. Float pixels are kept.
- An (N, H, W) array is N grey images: read as (N, 1, H, W), so that channels are channels.
- A non-finite value is refused with the number of them and the index of the first.
- An image folder's images are read when needed: an unreadable image, or one whose size differs
  from the first image's (without ``--image-size``), is an error naming the file.
- ``normalize`` then standardises each channel (:class:`Normalised`) with the data's own mean and
  std (:func:`channel_stats`) or ImageNet's.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from gcnc.idx import parse_idx
from gcnc.measure_io import MeasureInputError, first_line

IDX_PREFIX = {"train": "train", "test": "t10k"}


def scale_pixels(x: np.ndarray, path: Path) -> tuple[torch.Tensor, str]:
    """Float pixels as they are, integer pixels scaled to [0, 1] (module docstring); and what
    was done, for the data's description."""
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.number):
        raise MeasureInputError(f"DATA: {path}: x holds {x.dtype} values, expected numbers")
    if np.issubdtype(x.dtype, np.floating):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)), ""
    low, high = int(x.min()), int(x.max())
    if low < 0:
        raise MeasureInputError(f"DATA: {path}: integer pixels must be >= 0, x has {low}")
    top = 255 if high <= 255 else 65535 if high <= 65535 else high
    scaled = torch.from_numpy(x.astype(np.float32) / np.float32(max(top, 1)))
    return scaled, f"{x.dtype} pixels {low}..{high} divided by {top}"


def _check_finite(x: np.ndarray, path: Path) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        first = ", ".join(str(int(i)) for i in np.argwhere(bad)[0])
        count = int(bad.sum())
        raise MeasureInputError(
            f"DATA: {path}: x has {count} non-finite value{'s' if count > 1 else ''} (NaN or "
            f"inf), the first at x[{first}]"
        )


def _npz(path: Path, image_size: int | None) -> tuple[Dataset, str]:
    try:
        with np.load(path, allow_pickle=False) as arrays:
            names = list(arrays.files)
            if not {"x", "y"} <= set(names):
                raise MeasureInputError(f"DATA: {path} holds {names}, expected arrays x and y")
            x, y = arrays["x"], arrays["y"]
    except MeasureInputError:
        raise
    except Exception as err:  # not a zip, a truncated one, object arrays (pickles)
        raise MeasureInputError(
            f"DATA: {path} is not a readable .npz of arrays x and y ({first_line(err)})"
        ) from None
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise MeasureInputError(
            f"DATA: {path}: y must be a 1-D array of integer class labels, got {y.dtype} of "
            f"shape {y.shape}"
        )
    if x.ndim < 2 or len(x) != len(y):
        raise MeasureInputError(
            f"DATA: {path}: x of shape {x.shape} needs one row per label; y has {len(y)}"
        )
    if len(y) == 0:
        raise MeasureInputError(f"DATA: {path}: no examples (x and y have 0 rows)")
    if np.issubdtype(x.dtype, np.floating):
        _check_finite(x, path)
    inputs, scaled = scale_pixels(x, path)
    notes = [scaled] if scaled else []
    if inputs.dim() == 3:
        inputs = inputs[:, None]
        notes.append("(N, H, W) read as grey images")
    data = TensorDataset(_resized(inputs, image_size), torch.from_numpy(y).long())
    return data, f"{path} (npz, {len(y)} examples{''.join(', ' + n for n in notes)})"


def _idx(folder: Path, stem: str) -> np.ndarray:
    for path in (folder / f"{stem}.gz", folder / stem):
        if path.exists():
            try:
                raw = (
                    gzip.decompress(path.read_bytes())
                    if path.suffix == ".gz"
                    else path.read_bytes()
                )
            except (OSError, EOFError) as err:
                raise MeasureInputError(f"DATA: cannot read {path} ({first_line(err)})") from None
            return parse_idx(raw, path, "DATA")
    raise MeasureInputError(f"DATA: {folder} has no {stem}[.gz]")


class ImageFiles(Dataset):
    """An image folder (one subfolder of images per class, classes in sorted order) read image
    by image; an unreadable image, or one of another size than the first read, raises
    MeasureInputError naming the file."""

    def __init__(self, path: Path, image_size: int | None) -> None:
        from torchvision import datasets, transforms

        steps = [transforms.Resize((image_size, image_size))] if image_size else []
        try:
            self.folder = datasets.ImageFolder(
                path, transforms.Compose([*steps, transforms.ToTensor()])
            )
        except (FileNotFoundError, RuntimeError) as err:
            raise MeasureInputError(f"DATA: {path} is not an image folder ({err})") from None
        self.first: tuple[tuple[int, ...], str] | None = None
        self.targets = self.folder.targets

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        file = self.folder.samples[index][0]
        try:
            x, y = self.folder[index]
        except Exception as err:  # PIL: truncated or not an image
            raise MeasureInputError(
                f"DATA: cannot read the image {file} ({first_line(err)})"
            ) from None
        shape = tuple(x.shape)
        if self.first is None:
            self.first = (shape, file)
        elif shape != self.first[0]:
            size, first = "x".join(map(str, shape[1:])), "x".join(map(str, self.first[0][1:]))
            raise MeasureInputError(
                f"DATA: {file} is {size}, {self.first[1]} is {first}: add --image-size to "
                "resize every image to one size"
            )
        return x, y


def load_dataset(path: str, split: str, image_size: int | None) -> tuple[Dataset, str]:
    """The (input, label) pairs of ``path`` before normalisation, and what they are."""
    p = Path(path)
    if p.suffix == ".npz" and p.is_file():
        return _npz(p, image_size)
    if p.is_dir() and any(p.glob("*-images-idx3-ubyte*")):
        prefix = IDX_PREFIX[split]
        x, _ = scale_pixels(_idx(p, f"{prefix}-images-idx3-ubyte")[:, None], p)
        y = torch.from_numpy(_idx(p, f"{prefix}-labels-idx1-ubyte")).long()
        if len(x) != len(y):
            raise MeasureInputError(f"DATA: {p}: {len(x)} images and {len(y)} labels ({split})")
        data = TensorDataset(_resized(x, image_size), y)
        return data, f"{p} (IDX, {split} split, {len(y)} examples)"
    if p.is_dir():
        folder = ImageFiles(p, image_size)
        classes = len(folder.folder.classes)
        return folder, f"{p} (image folder, {len(folder)} images, {classes} classes)"
    raise MeasureInputError(
        f"DATA: {p} is not a .npz file, a folder of IDX files or a folder of class subfolders"
    )


def _resized(x: torch.Tensor, size: int | None) -> torch.Tensor:
    if size is None:
        return x
    if x.dim() != 4:
        raise MeasureInputError(f"--image-size: the inputs are not images (shape {tuple(x.shape)})")
    return nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)


def labels_of(data: Dataset) -> list[int]:
    """The label of every example of ``data`` (read without loading the inputs)."""
    if isinstance(data, TensorDataset):
        return data.tensors[1].tolist()
    return list(data.targets)  # type: ignore[attr-defined]


def stratified_subset(data: Dataset, max_examples: int | None, seed: int) -> Dataset:
    """A random subset of ``max_examples`` examples, max_examples // k of each of the k classes
    (one more for max_examples % k of them, drawn at random; all of a smaller class), in the
    data's order; all of them when None or more."""
    if max_examples is None or max_examples >= len(data):  # type: ignore[arg-type]
        return data
    labels = torch.tensor(labels_of(data))
    classes = torch.unique(labels)
    if max_examples < len(classes):
        raise MeasureInputError(
            f"--max-examples: {max_examples} is fewer than the {len(classes)} classes of DATA "
            "(every class needs an example)"
        )
    g = torch.Generator().manual_seed(seed)
    quota = torch.full((len(classes),), max_examples // len(classes))
    quota[torch.randperm(len(classes), generator=g)[: max_examples % len(classes)]] += 1
    chosen = []
    for c, q in zip(classes.tolist(), quota.tolist(), strict=True):
        members = torch.nonzero(labels == c).flatten()
        chosen.append(members[torch.randperm(len(members), generator=g)[:q]])
    return Subset(data, torch.cat(chosen).sort().values.tolist())


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
