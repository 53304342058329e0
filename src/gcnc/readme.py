"""README's generated tables (never copied by hand).

- ``<!-- claims:<preset> -->`` ... ``<!-- /claims:<preset> -->``: the table of
  ``paper_figures/<preset>/claims.md`` (:func:`splice_claims`);
- ``<!-- central:<preset>+<preset>... -->`` ... ``<!-- /central:... -->``: the central claims
  side by side (:mod:`gcnc.claims.central`), refreshed whenever every preset it names has its
  claims.csv and plan.csv.
"""

from __future__ import annotations

import re
from pathlib import Path


def claims_table_lines(claims_md: str) -> list[str]:
    """The Markdown table rows (header included) of a claims.md."""
    rows = [line for line in claims_md.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError("claims.md has no table with at least one row")
    return rows


def splice(readme: str, name: str, table_lines: list[str], source: str) -> str:
    """``readme`` with its block ``<!-- name -->`` ... ``<!-- /name -->`` replaced by a note
    naming ``source`` and the Markdown ``table_lines``."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    if readme.count(start) != 1 or readme.count(end) != 1:
        raise ValueError(f"README needs exactly one '{start}' ... '{end}' block")
    head, rest = readme.split(start)
    _, tail = rest.split(end)
    block = [start, f"<!-- generated from {source} by `make readme`; do not edit -->", ""]
    return head + "\n".join(block + table_lines + ["", end]) + tail


def splice_claims(readme: str, claims_md: str, preset: str, source: str) -> str:
    """``readme`` with its claims block for ``preset`` replaced by the table of ``claims_md``."""
    return splice(readme, f"claims:{preset}", claims_table_lines(claims_md), source)


def central_blocks(readme: str) -> list[list[str]]:
    """The preset lists of README's central-claims blocks, in order."""
    return [m.split("+") for m in re.findall(r"<!-- central:([\w+]+) -->", readme)]


def splice_central(readme: str, root: Path) -> tuple[str, list[str]]:
    """``readme`` with every central block whose presets all have results refreshed; and the
    blocks left as they were (a preset not run here)."""
    from gcnc.claims.central import central_columns, central_table

    skipped = []
    for presets in central_blocks(readme):
        name = f"central:{'+'.join(presets)}"
        if not all((root / "paper_figures" / p / "claims.csv").exists() for p in presets):
            skipped.append(name)
            continue
        table = central_table(central_columns(presets, root)).splitlines()
        sources = ", ".join(f"paper_figures/{p}/claims.csv" for p in presets)
        readme = splice(readme, name, table, sources)
    return readme, skipped


def update_readme(
    readme_path: str | Path, claims_path: str | Path, preset: str
) -> tuple[bool, list[str]]:
    """Rewrite README's claims block from claims.md and its central blocks from the presets'
    results (in the checkout that holds README); returns whether README changed and the central
    blocks left alone for lack of results."""
    readme_path, claims_path = Path(readme_path), Path(claims_path)
    old = readme_path.read_text()
    new = splice_claims(old, claims_path.read_text(), preset, str(claims_path))
    new, skipped = splice_central(new, readme_path.resolve().parent)
    if new != old:
        readme_path.write_text(new)
    return new != old, skipped
