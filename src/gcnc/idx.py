"""The IDX file format of MNIST and Fashion-MNIST (LeCun's: a big-endian header of dimension
sizes, then unsigned bytes), read with NumPy alone: the library's ``gcnc measure`` and the study's
dataset preparation both read it here."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class IdxError(ValueError):
    """Bytes that are not an IDX file of unsigned bytes, or of the wrong size for its header."""


def parse_idx(data: bytes, path: Path, name: str) -> np.ndarray:
    """The uint8 array of an IDX file's contents; ``name`` (the dataset) and ``path`` go into
    the error message."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise IdxError(f"dataset '{name}': {path} is not an IDX file of unsigned bytes")
    ndim = data[3]
    offset = 4 + 4 * ndim
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != offset + int(np.prod(dims)):
        raise IdxError(f"dataset '{name}': {path} has a wrong size for shape {dims}")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims).copy()
