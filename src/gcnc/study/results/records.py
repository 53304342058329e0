"""Records of the workflow's results: what each file was when written, and what it was made from.

Every job that writes under ``results/`` leaves beside each of its outputs a record
``<file>.record.json``: the file's sha256 and the job's inputs (paths as the workflow names
them). Whoever reads a result checks it against its record (:func:`verify`, :func:`read_table`,
:func:`read_json`) and refuses a missing, truncated, torn or altered file with
:class:`DamagedResultError`, which names the file and says what to do: delete it and rerun
(``make run`` rebuilds every missing output of the preset from its inputs, identically). The
records' inputs chain every result back to the prepared data, so a provenance sidecar can list
every file upstream of a figure (:func:`lineage`).

A file without a record (written by a gcnc before records) is read with the structural checks
alone: a CSV whose rows do not all have the header's fields, or that does not end with a line
break, is refused as torn.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from gcnc.study.results.files import sha256_file, write_text

RECORD_SUFFIX = ".record.json"
REBUILD = "Delete it and rerun: make run rebuilds a missing result from its inputs"


class DamagedResultError(RuntimeError):
    """A result file is missing, unreadable or not what the workflow wrote; names the file and
    says what to do."""


def record_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + RECORD_SUFFIX)


def write_record(path: str | Path, inputs: Iterable[str | Path]) -> None:
    """Record ``path``'s sha256 and the ``inputs`` it was made from (call once it is written)."""
    record = {"sha256": sha256_file(path), "inputs": sorted({str(p) for p in inputs})}
    write_text(record_path(path), json.dumps(record, indent=1))


def record_outputs(outputs: Iterable[str | Path], inputs: Iterable[str | Path]) -> None:
    """Record every output of a finished job, each made from all of the job's inputs."""
    inputs = list(inputs)
    for path in outputs:
        write_record(path, inputs)


def write_table(table: pd.DataFrame, path: str | Path, inputs: Iterable[str | Path]) -> None:
    """Write ``table`` as CSV atomically and record it."""
    write_text(path, table.to_csv(index=False))
    write_record(path, inputs)


def read_record(path: str | Path) -> dict[str, Any] | None:
    """The record of ``path``, or None if it has none; an unreadable record is an error."""
    rec = record_path(path)
    if not rec.exists():
        return None
    try:
        record = json.loads(rec.read_text())
        if not isinstance(record.get("sha256"), str) or not isinstance(record.get("inputs"), list):
            raise ValueError("no sha256 and inputs")
    except (ValueError, UnicodeDecodeError, AttributeError) as err:
        raise DamagedResultError(
            f"{rec}: not a readable record of {Path(path).name} ({err}). Delete {path} and this "
            "record and rerun: make run rebuilds both"
        ) from None
    return record


def verify(path: str | Path) -> Path:
    """``path``, after checking that it exists and, where it has a record, is byte for byte what
    the workflow wrote."""
    path = Path(path)
    if not path.exists():
        raise DamagedResultError(f"{path} is missing. Rerun: make run rebuilds it")
    record = read_record(path)
    if record is not None and sha256_file(path) != record["sha256"]:
        raise DamagedResultError(
            f"{path} is not what the workflow wrote (truncated, edited or replaced since: its "
            f"sha256 differs from {record_path(path).name}). {REBUILD}"
        )
    return path


def verify_all(paths: Iterable[str | Path]) -> None:
    """:func:`verify` each of ``paths`` (a job's inputs)."""
    for path in paths:
        verify(path)


def _torn_row(path: Path) -> str | None:
    """Why a CSV looks torn (a row without the header's fields, no final line break), or None."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        return "its last line is cut off (no final line break)"
    rows = csv.reader(io.StringIO(data.decode(), newline=""))
    width = len(next(rows, []))
    for number, row in enumerate(rows, 2):
        if len(row) != width:
            return f"line {number} has {len(row)} fields, the header {width}"
    return None


def read_table(path: str | Path, columns: Iterable[str] = ()) -> pd.DataFrame:
    """A result table, verified (:func:`verify`), whole (no torn row) and with ``columns``.

    The reader every consumer of the workflow's CSV tables uses (collection, bounds, figures,
    tables, claims); raises :class:`DamagedResultError` naming the file."""
    path = verify(path)
    try:
        torn = _torn_row(path)
        table = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:  # pandas' ParserError, EmptyDataError
        torn, table = f"not a readable CSV table ({type(err).__name__}: {err})", None
    if torn:
        raise DamagedResultError(f"{path}: {torn}. {REBUILD}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DamagedResultError(f"{path}: no column {', '.join(missing)}. {REBUILD}")
    return table


def read_json(path: str | Path) -> dict[str, Any]:
    """A result's JSON object (summary.json, config.json), verified; refused by name if damaged."""
    path = verify(path)
    try:
        value = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        value = err
    if not isinstance(value, dict):
        raise DamagedResultError(f"{path}: not a JSON object ({value!s:.80}). {REBUILD}")
    return value


def lineage(paths: Iterable[str | Path]) -> list[str]:
    """Every file upstream of ``paths`` by their records' inputs, transitively (``paths`` not
    included); a file without a record ends its branch (prepared data, raw files)."""
    start = [str(p) for p in paths]
    seen, queue = set(start), list(start)
    while queue:
        record = read_record(queue.pop())
        for parent in record["inputs"] if record else []:
            if parent not in seen:
                seen.add(parent)
                queue.append(parent)
    return sorted(seen - set(start))
