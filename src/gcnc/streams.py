"""Data for :func:`gcnc.measure`: batches from a tensor, a Dataset or a DataLoader; the
class-stratified sample of examples GC is measured on; progress lines on stderr."""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from gcnc.metrics.inputs import as_tensor, check_labels


class BatchSource:
    """Fresh iterators over the (inputs, labels) batches of some data, each call (measuring may
    read the data twice), and their number when known."""

    def __init__(self, make: Callable[[], Iterator[Any]], n_batches: int | None) -> None:
        self.make, self.n_batches = make, n_batches

    def __call__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for index, batch in enumerate(self.make()):
            yield unpack_batch(batch, index)


def batch_source(data: Any, labels: Any, batch_size: int, n_classes: int | None) -> BatchSource:
    """The batches of ``data``: a tensor or NumPy array with ``labels`` (split into
    ``batch_size`` rows), a Dataset of (input, label) pairs (batched by a DataLoader), or a
    re-iterable of (inputs, labels) batches such as a DataLoader; a one-shot iterator is
    refused, as the data may be read twice."""
    if isinstance(data, torch.Tensor) or type(data).__module__ == "numpy":
        x = as_tensor(data, "data")
        if labels is None:
            raise ValueError("labels: required when data is a tensor or an array")
        y = check_labels(labels, x.shape[0] if x.dim() else 0, n_classes, rows_of="data")
        n_batches = math.ceil(x.shape[0] / batch_size)

        def pairs() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
            return zip(x.split(batch_size), y.split(batch_size), strict=True)

        return BatchSource(pairs, n_batches)
    if labels is not None:
        raise ValueError(
            "labels: give them only with a tensor or an array; a Dataset or a DataLoader yields "
            "(inputs, labels) pairs"
        )
    if isinstance(data, Dataset):
        if not (isinstance(data, IterableDataset) or hasattr(data, "__len__")):
            raise TypeError("data: a map-style Dataset needs __len__")
        loader = DataLoader(data, batch_size=batch_size)
        return BatchSource(lambda: iter(loader), _length(loader))
    if isinstance(data, Iterator):
        raise TypeError(
            "data: a one-shot iterator cannot be read twice; pass a DataLoader or a list of "
            "(inputs, labels) batches"
        )
    if isinstance(data, Iterable):
        return BatchSource(lambda: iter(data), _length(data))
    raise TypeError(
        "data: expected a tensor, a NumPy array, a Dataset or an iterable of (inputs, labels) "
        f"batches such as a DataLoader, got {type(data).__name__}"
    )


def _length(data: Iterable) -> int | None:
    """len(data), or None for data without a length (a DataLoader of an IterableDataset)."""
    try:
        return len(data)  # type: ignore[arg-type]
    except TypeError:
        return None


def unpack_batch(batch: Any, index: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels) of batch ``index`` (counted from 0), as tensors; errors name ``data``."""
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise TypeError(
            f"data: batch {index} is a {type(batch).__name__}, expected an (inputs, labels) pair"
        )
    return as_tensor(batch[0], f"data (inputs of batch {index})"), as_tensor(
        batch[1], f"labels (of batch {index})"
    )


class ClassReservoir:
    """A uniform random sample of each class's examples, ``total`` examples over the classes
    seen (at least one per class), from one pass over data of unknown size and order.

    Each class keeps a reservoir (algorithm R: the t-th example of a class replaces a random
    kept one with probability capacity / t) of capacity max(1, total // classes seen). When a new
    class appears the capacity shrinks and every reservoir drops random examples: a uniform
    subset of a uniform sample is uniform, so each reservoir stays a uniform sample of its class.
    Inputs are kept on the CPU.
    """

    def __init__(self, total: int, seed: int) -> None:
        self.total = total
        self.rng = random.Random(seed)
        self.kept: dict[int, list[torch.Tensor]] = {}
        self.seen: dict[int, int] = {}

    def capacity(self) -> int:
        return max(1, self.total // max(1, len(self.kept)))

    def offer(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Consider every example of the batch ``x`` (inputs) with labels ``y``."""
        x, labels = x.detach().cpu(), y.detach().cpu().tolist()
        if not set(labels) <= set(self.kept):
            for c in set(labels) - set(self.kept):
                self.kept[c], self.seen[c] = [], 0
            cap = self.capacity()
            for c, kept in self.kept.items():
                if len(kept) > cap:
                    self.kept[c] = self.rng.sample(kept, cap)
        cap = self.capacity()
        for row, c in zip(x, labels, strict=True):
            self.seen[c] += 1
            if len(self.kept[c]) < cap:
                self.kept[c].append(row.clone())
            else:
                slot = self.rng.randrange(self.seen[c])
                if slot < cap:
                    self.kept[c][slot] = row.clone()

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The kept inputs and their labels, classes in increasing order."""
        classes = sorted(self.kept)
        x = torch.stack([row for c in classes for row in self.kept[c]])
        y = torch.tensor([c for c in classes for _ in self.kept[c]])
        return x, y


class Progress:
    """Plain progress lines on stderr (``measure: <stage> <done>/<total>, <seconds> s``), at most
    one a second besides the last of each stage; silent when ``enabled`` is false."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = self.last = time.monotonic()

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"measure: {text}", file=sys.stderr, flush=True)

    def step(self, stage: str, done: int, total: int | None, unit: str) -> None:
        now = time.monotonic()
        final = total is not None and done >= total
        if self.enabled and (final or now - self.last >= 1.0):
            of = f"/{total}" if total is not None else ""
            self.say(f"{stage} {done}{of} {unit}, {now - self.start:.0f} s")
            self.last = now
