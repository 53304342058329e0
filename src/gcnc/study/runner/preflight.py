"""Before the first job: every third-party module the workflow's jobs import can be imported.

The modules are read from the code itself, not from a list: every top-level ``import`` of the
gcnc package and of the workflow scripts that is neither the standard library nor gcnc. They are
imported in a fresh interpreter (the one the jobs use, with their environment), so a missing or
broken plotting library stops ``make run`` before any training instead of at the figure jobs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

CHECK = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as err:
        print(f"{name}\\t{type(err).__name__}: {err}".splitlines()[0])
"""


def imported_modules(sources: Iterable[Path]) -> dict[str, list[str]]:
    """Third-party top-level modules imported by the Python files ``sources`` (folders are
    searched), each with the files that import it."""
    files = [f for s in sources for f in (sorted(s.rglob("*.py")) if s.is_dir() else [s])]
    found: dict[str, list[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for top in {n.split(".")[0] for n in names} - set(sys.stdlib_module_names) - {"gcnc"}:
                found.setdefault(top, []).append(str(path))
    return found


def missing_modules(sources: Iterable[Path], python: str = sys.executable) -> list[str]:
    """One line per module of :func:`imported_modules` that ``python`` cannot import: the module,
    the error, a file that needs it, and what to do."""
    needed = imported_modules(sources)
    out = subprocess.run(
        [python, "-c", CHECK, *sorted(needed)], capture_output=True, text=True, check=True
    )
    lines = []
    for line in out.stdout.splitlines():
        name, error = line.split("\t", 1)
        lines.append(
            f"module '{name}' cannot be imported ({error}); {needed[name][0]} needs it. Install "
            "the study's packages: make setup (or pip install -e '.[study]' in this environment)"
        )
    return lines
