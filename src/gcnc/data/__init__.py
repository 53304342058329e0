"""Dataset preparation: every dataset becomes ``data/prepared/<name>/{arrays.npz, meta.json}``.

See :func:`gcnc.data.prepare.prepare_dataset` (writer), :func:`gcnc.data.prepared.load_prepared`
(reader, with the task views used for pretraining and transfer),
:func:`gcnc.data.availability.availability_errors` (can the raw files be found, before any job)
and :mod:`gcnc.data.fabricate` (small raw files in the genuine formats, with a checksum manifest).

The readers import torch; they are loaded on first use, so that Snakemake's parse-time checks
(:mod:`gcnc.data.availability`) stay cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from gcnc.data.availability import availability_errors
from gcnc.data.errors import DataCorruptError, DataNotFoundError

_LAZY = {
    "prepare_dataset": "gcnc.data.prepare",
    "Prepared": "gcnc.data.prepared",
    "load_prepared": "gcnc.data.prepared",
}

__all__ = ["DataCorruptError", "DataNotFoundError", "availability_errors", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gcnc.data' has no attribute '{name}'")
