"""README's generated tables (never copied by hand).

- ``<!-- claims:<preset> -->`` ... ``<!-- /claims:<preset> -->``: the table of
  ``paper_figures/<preset>/claims.md`` (:func:`splice_claims`);
- ``<!-- central:<preset>+<preset>... -->`` ... ``<!-- /central:... -->``: the central claims
  side by side (:mod:`gcnc.study.claims.central`), refreshed from the presets it names that have
  their
  claims.csv and plan.csv here; a preset not run here keeps the columns README already has for it
  (results recorded by the checkout that ran it: `standard` takes hours), said so under the table.
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


def block_parts(readme: str, name: str) -> tuple[str, str, str]:
    """``readme`` before block ``name``'s opening marker, between its markers, after its closing
    one; ``ValueError`` unless README has exactly one such block."""
    start, end = block_markers(name)
    if readme.count(start) != 1 or readme.count(end) != 1:
        raise ValueError(f"README needs exactly one '{start}' ... '{end}' block")
    head, rest = readme.split(start)
    body, tail = rest.split(end)
    return head, body, tail


def splice(readme: str, name: str, table_lines: list[str], source: str) -> str:
    """``readme`` with its block ``<!-- name -->`` ... ``<!-- /name -->`` replaced by a note
    naming ``source`` and the Markdown ``table_lines``."""
    start, end = block_markers(name)
    head, _, tail = block_parts(readme, name)
    block = [start, f"<!-- generated from {source} by `make readme`; do not edit -->", ""]
    return head + "\n".join(block + table_lines + ["", end]) + tail


def splice_claims(readme: str, claims_md: str, preset: str, source: str) -> str:
    """``readme`` with its claims block for ``preset`` replaced by the table of ``claims_md``."""
    return splice(readme, f"claims:{preset}", claims_table_lines(claims_md), source)


def central_blocks(readme: str) -> list[list[str]]:
    """The preset lists of README's central-claims blocks, in order."""
    return [m.split("+") for m in re.findall(r"<!-- central:([\w+]+) -->", readme)]


def table_columns(lines: list[str]) -> dict[str, dict[str, str]]:
    """``header -> {first cell -> cell}`` of the Markdown table in ``lines`` (escaped pipes kept
    inside their cell)."""
    rows = [
        [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in lines
        if line.startswith("|") and not line.startswith("|---")
    ]
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    return {h: {row[0]: row[i] for row in body} for i, h in enumerate(header) if i > 0}


def of_preset(header: str, preset: str) -> bool:
    """Whether a central-table column header names ``preset`` ('standard', 'standard: ...')."""
    return header == preset or header.startswith(f"{preset}: ")


def splice_central(readme: str, root: Path) -> tuple[str, list[str]]:
    """``readme`` with every central block refreshed from those of its presets that have results
    here, keeping the columns the block already has for the others (or naming them under the
    table where it has none); and the blocks with a preset missing, as
    'central:<presets> (<missing> not run here)'."""
    from gcnc.study.claims.central import central_cells, central_columns, markdown_table

    incomplete = []
    for presets in central_blocks(readme):
        name = f"central:{'+'.join(presets)}"
        present = [p for p in presets if (root / "paper_figures" / p / "claims.csv").exists()]
        missing = [p for p in presets if p not in present]
        if missing:
            incomplete.append(f"{name} ({', '.join(missing)} not run here)")
        if not present:
            continue
        old = table_columns(block_parts(readme, name)[1].splitlines())
        columns, notes = {}, []
        for p in presets:
            if p in present:
                columns |= central_cells(central_columns([p], root, len(presets) > 1))
            else:
                kept = {h: cells for h, cells in old.items() if of_preset(h, p)}
                columns |= kept
                notes.append(
                    f"`{p}`: columns kept from this README (its results are not in this "
                    f"checkout; `make run PRESET={p}` regenerates them)."
                    if kept
                    else f"`{p}`: no results in this checkout yet (`make run PRESET={p}`)."
                )
        table = markdown_table(columns).splitlines()
        sources = ", ".join(f"paper_figures/{p}/claims.csv" for p in present)
        readme = splice(readme, name, table + [line for n in notes for line in ("", n)], sources)
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
