"""Dataset preparation: every dataset becomes ``data/prepared/<name>/{arrays.npz, meta.json}``.

See :func:`gcnc.study.data.prepare.prepare_dataset` (writer),
:func:`gcnc.study.data.prepared.load_prepared`
(reader, with the task views used for pretraining and transfer),
:func:`gcnc.study.data.availability.availability_errors` (can the raw files be found, before any
job) and :mod:`gcnc.study.data.fabricate` (small raw files in the genuine formats, with a checksum
manifest).

The readers import torch; they are loaded on first use, so that Snakemake's parse-time checks
(:mod:`gcnc.study.data.availability`) stay cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

from gcnc.study.data.availability import availability_errors
from gcnc.study.data.errors import DataCorruptError, DataNotFoundError

_LAZY = {
    "prepare_dataset": "gcnc.study.data.prepare",
    "Prepared": "gcnc.study.data.prepared",
    "load_prepared": "gcnc.study.data.prepared",
}

__all__ = ["DataCorruptError", "DataNotFoundError", "availability_errors", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gcnc.study.data' has no attribute '{name}'")
