"""README's generated tables (never copied by hand).

- ``<!-- claims:<preset> -->`` ... ``<!-- /claims:<preset> -->``: the table of
  ``paper_figures/<preset>/claims.md`` (:func:`splice_claims`);
- ``<!-- central:<preset>+<preset>... -->`` ... ``<!-- /central:... -->``: the central claims
  side by side (:mod:`gcnc.claims.central`), refreshed from the presets it names that have their
  claims.csv and plan.csv here; the others are named under the table as not run here.
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


def block_markers(name: str) -> tuple[str, str]:
    """The comments that open and close README's generated block ``name``."""
    return f"<!-- {name} -->", f"<!-- /{name} -->"


def splice(readme: str, name: str, table_lines: list[str], source: str) -> str:
    """``readme`` with its block ``<!-- name -->`` ... ``<!-- /name -->`` replaced by a note
    naming ``source`` and the Markdown ``table_lines``."""
    start, end = block_markers(name)
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
    """``readme`` with every central block refreshed from those of its presets that have results
    here (the others named under the table); and the blocks with a preset missing, as
    'central:<presets> (<missing> not run here)'."""
    from gcnc.claims.central import central_columns, central_table

    incomplete = []
    for presets in central_blocks(readme):
        name = f"central:{'+'.join(presets)}"
        present = [p for p in presets if (root / "paper_figures" / p / "claims.csv").exists()]
        missing = [p for p in presets if p not in present]
        if missing:
            incomplete.append(f"{name} ({', '.join(missing)} not run here)")
        if not present:
            continue
        table = central_table(central_columns(present, root, len(presets) > 1)).splitlines()
        for p in missing:
            table += ["", f"`{p}`: no results in this checkout yet (`make run PRESET={p}`)."]
        sources = ", ".join(f"paper_figures/{p}/claims.csv" for p in present)
        readme = splice(readme, name, table, sources)
    return readme, incomplete


def update_readme(
    readme_path: str | Path, claims_path: str | Path, preset: str
) -> tuple[bool, list[str]]:
    """Rewrite README's claims block of ``preset`` (where README has one) from claims.md and its
    central blocks from the presets' results (in the checkout that holds README); returns whether
    README changed and notes on what was left out (no claims block for ``preset``, central
    blocks with a preset not run here)."""
    readme_path, claims_path = Path(readme_path), Path(claims_path)
    old = readme_path.read_text()
    notes = []
    if block_markers(f"claims:{preset}")[0] in old:
        new = splice_claims(old, claims_path.read_text(), preset, str(claims_path))
    else:
        new = old
        notes.append(f"has no claims block for {preset} ('<!-- claims:{preset} -->'): left out")
    new, incomplete = splice_central(new, readme_path.resolve().parent)
    if new != old:
        readme_path.write_text(new)
    return new != old, notes + [f"block {name}" for name in incomplete]
