"""Per-class detail of a measurement (``detail=True``): what the scalar metrics are made of.

Row c of every array is class c. The table's column names are those of the study's per-class
table (``classes.csv`` of a run: ``class``, ``n``, ``gc``, ``variance``), plus ``gc_examples``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


def import_pandas(what: str) -> Any:
    """pandas, or an ImportError saying that ``what`` needs it (gcnc does not depend on it)."""
    try:
        import pandas
    except ImportError:
        raise ImportError(
            f"{what} needs pandas, which gcnc does not install: pip install pandas"
        ) from None
    return pandas


@dataclass(frozen=True)
class ClassDetail:
    """Per-class statistics as NumPy arrays: ``np.asarray`` and ``pandas.DataFrame`` read them
    directly (``pandas.DataFrame(detail.table())``, or :meth:`to_pandas`)."""

    n: np.ndarray  # (k,) examples per class
    means: np.ndarray  # (k, p) class means mu_c of the embedding
    variance: np.ndarray  # (k,) Var_c = E||f(x) - mu_c||^2, the CDNV's variances
    gc: np.ndarray | None  # (k,) mean ||J_f(x)||_F^2 over the class's GC examples (None: no GC)
    gc_examples: np.ndarray  # (k,) examples of each class that GC was measured on
    cdnv: np.ndarray  # (k, k) V_f(Q_i, Q_j) = (Var_i + Var_j) / (2 ||mu_i - mu_j||^2), NaN diagonal

    def table(self) -> dict[str, np.ndarray]:
        """One column per per-class quantity (``class``, ``n``, ``variance``, ``gc``,
        ``gc_examples``); ``gc`` is NaN without GC."""
        k = len(self.n)
        gc = self.gc if self.gc is not None else np.full(k, np.nan)
        return {
            "class": np.arange(k),
            "n": self.n,
            "variance": self.variance,
            "gc": gc,
            "gc_examples": self.gc_examples,
        }

    def to_pandas(self) -> Any:
        """:meth:`table` as a ``pandas.DataFrame``, one row per class."""
        return import_pandas("ClassDetail.to_pandas()").DataFrame(self.table())

    def save(self, folder: str | Path) -> list[Path]:
        """Write ``classes.csv`` (:meth:`table`), ``means.npy`` and ``cdnv.npy`` into ``folder``
        (created if needed); returns the paths written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table = self.table()
        paths = [folder / "classes.csv", folder / "means.npy", folder / "cdnv.npy"]
        with paths[0].open("w", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(table)
            writer.writerows(zip(*(column.tolist() for column in table.values()), strict=True))
        np.save(paths[1], self.means)
        np.save(paths[2], self.cdnv)
        return paths
