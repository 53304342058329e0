"""Files written whole or not at all, and their digests.

Every result, record and checkpoint is written to ``<name>.tmp`` beside its destination and
renamed over it, so a reader never sees half a file. A write that fails (a full disk above all)
removes the temporary file and raises :class:`WriteFailed`: an :class:`OSError` whose message
names the destination and the system's reason ("No space left on device") and says what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class WriteFailed(OSError):
    """A file could not be written (disk full, permissions); names the file, leaves no temporary
    file behind."""


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def write_bytes(path: str | Path, data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise WriteFailed(
            err.errno,
            f"cannot write {path}: {err.strerror or err}. Nothing half-written was left behind; "
            "free some space (or fix the permissions) and rerun: finished work is kept",
        ) from err
    except BaseException:  # interrupted: no temporary file either
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode())
