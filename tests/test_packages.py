"""Two products, two packages: the library (``gcnc``, torch and NumPy only) never imports the
study (``gcnc.study``), and no module imports itself round a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
STUDY = SRC / "gcnc" / "study"


def modules(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module under ``root`` (packages by their __init__)."""
    out = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported(path: Path, top_level_only: bool) -> set[str]:
    """The gcnc modules a file imports (``from gcnc.x import y`` counts gcnc.x and gcnc.x.y)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    # "import a.b.c" runs a, a.b and a.b.c: every package on the way
    found |= {".".join(n.split(".")[:i]) for n in set(found) for i in range(1, n.count(".") + 1)}
    return {name for name in found if name == "gcnc" or name.startswith("gcnc.")}


LIBRARY = {n: p for n, p in modules(SRC / "gcnc").items() if not n.startswith("gcnc.study")}


def test_no_library_module_imports_the_study():
    """Not even inside a function: the study is reached from the library only by name, through
    importlib, by the ``gcnc`` command's study subcommands."""
    for name, path in LIBRARY.items():
        bad = sorted(m for m in imported(path, top_level_only=False) if m.startswith("gcnc.study"))
        assert not bad, (name, bad)


def test_importing_the_library_loads_no_study_module_nor_study_package():
    names = sorted(LIBRARY)
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('gcnc.study') or m.split('.')[0]"
        " in ('pandas', 'scipy', 'matplotlib', 'seaborn', 'snakemake', 'sklearn', 'yaml'))\n"
        "print(loaded)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_no_import_cycles_and_the_library_at_the_bottom():
    graph = {name: imported(path, top_level_only=True) for name, path in modules(SRC).items()}
    # a module's own packages run before it: importing them is no edge
    graph = {n: {m for m in deps if m in graph and not (n + ".").startswith(m + ".")}
             for n, deps in graph.items()}  # fmt: skip
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            assert state.get(dep) != 1, " -> ".join([*trail, node, dep])  # a cycle
            if dep not in state:
                visit(dep, [*trail, node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])
    library = {n for n in graph if not n.startswith("gcnc.study")}
    assert not {m for n in library for m in graph[n] if m.startswith("gcnc.study")}
