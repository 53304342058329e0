"""Data for :func:`gcnc.measure`: batches from a tensor, a Dataset or a DataLoader; the
class-stratified sample of examples GC is measured on; progress lines on stderr."""

from __future__ import annotations

import heapq
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from gcnc.metrics.draws import example_keys
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
    """A class-stratified random sample of ``total`` examples over the classes seen (at least one
    per class), from one pass over data of unknown size and order, that does not depend on the
    batching, the loader or the order of the data.

    Every example gets a key from its bytes and the seed (:func:`gcnc.metrics.draws.example_keys`,
    uniform in [0, 2^63) for distinct examples) and each class keeps the examples with the
    smallest keys (bottom-k sampling: a uniform random subset of the class), at most
    max(1, total // classes seen). When a new class appears the capacity shrinks and every class
    drops its largest keys, which leaves the smallest keys of what it has seen: at the end, the
    total // k smallest keys of each class, whatever the order they came in. Inputs are kept on
    the CPU.
    """

    def __init__(self, total: int, seed: int) -> None:
        self.total, self.seed = total, seed
        self.kept: dict[int, list[tuple[int, int, torch.Tensor]]] = {}  # max-heaps (-key, #, x)
        self.offered = 0

    def capacity(self) -> int:
        return max(1, self.total // max(1, len(self.kept)))

    def offer(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Consider every example of the batch ``x`` (inputs) with labels ``y``."""
        x, labels = x.detach().cpu(), y.detach().cpu().tolist()
        keys = example_keys(x, self.seed, "sample")
        for c in set(labels) - set(self.kept):
            self.kept[c] = []
        cap = self.capacity()
        for heap in self.kept.values():
            while len(heap) > cap:
                heapq.heappop(heap)
        for row, c, key in zip(x, labels, keys, strict=True):
            heap, self.offered = self.kept[c], self.offered + 1
            if len(heap) < cap:
                heapq.heappush(heap, (-key, self.offered, row.clone()))
            elif key < -heap[0][0]:
                heapq.heapreplace(heap, (-key, self.offered, row.clone()))

    def sample(self, per_class: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The kept inputs and their labels, classes in increasing order, each by its keys;
        with ``per_class``, only the examples of the smallest keys of each class (the sample a
        reservoir of ``per_class`` x classes would have kept)."""
        classes = sorted(self.kept)
        rows = [
            (c, entry) for c in classes for entry in sorted(self.kept[c], reverse=True)[:per_class]
        ]
        x = torch.stack([entry[2] for _, entry in rows])
        return x, torch.tensor([c for c, _ in rows])


class Progress:
    """Plain progress lines on stderr (``measure: <stage> <done>/<total> <unit>, <seconds> s``,
    and the time left, extrapolated from the stage so far), at most one a second besides the
    last of each stage; silent when ``enabled`` is false."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = self.last = time.monotonic()
        self.stages: dict[str, float] = {}

    def say(self, text: str) -> None:
        if self.enabled:
            print(f"measure: {text}", file=sys.stderr, flush=True)

    def step(self, stage: str, done: int, total: int | None, unit: str) -> None:
        """``done`` of ``total`` (None: unknown) ``unit`` of ``stage``; call it with 0 when the
        stage begins, for the time left to count from there."""
        now = time.monotonic()
        begun = self.stages.setdefault(stage, now)
        final = total is not None and done >= total
        if self.enabled and done and (final or now - self.last >= 1.0):
            of = f"/{total:,}" if total is not None else ""
            left = ""
            if total is not None and not final:
                left = f", about {(now - begun) * (total - done) / done:.0f} s left"
            self.say(f"{stage} {done:,}{of} {unit}, {now - self.start:.0f} s{left}")
            self.last = now
