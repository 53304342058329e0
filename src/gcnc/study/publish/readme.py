"""README's generated block and the generated results pages (never copied by hand).

- ``<!-- central:<preset>+<preset>... -->`` ... ``<!-- /central:... -->`` in README: the paper's
  central claims side by side (:mod:`gcnc.study.claims.central`), refreshed from the presets it
  names that have results here or in ``published/``; a preset with neither keeps the columns
  README already has for it, said so under the table.
- ``docs/results/<preset>.md``: a preset's claims (its claims.md) and tables, for every preset
  with results here or published.

``gcnc readme`` (``make readme``) writes both.
"""

from __future__ import annotations

import re
from pathlib import Path

from gcnc.study.publish.report import Preset, find_presets

RESULT_TABLES = (  # (table, heading) on a preset's results page, after its claims
    ("table_terminal_phase", "End of pretraining: has each run reached the terminal phase?"),
    ("table_poincare", "Poincare constants"),
    ("table_bounds", "The bounds of Props. 4.1, 4.3 and 5.1"),
)


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


def where(preset: Preset) -> str:
    return f"{'published' if preset.published else 'paper_figures'}/{preset.name}/claims.csv"


def splice_central(readme: str, root: Path) -> tuple[str, list[str]]:
    """``readme`` with every central block refreshed from those of its presets that have results
    here or published, keeping the columns the block already has for the others (or naming
    them under the table where it has none); and the blocks with a preset missing, as
    'central:<presets> (<missing> not run here)'."""
    from gcnc.study.claims.central import central_cells, central_columns_of, markdown_table

    found = {p.name: p for p in find_presets(root)}
    incomplete = []
    for presets in central_blocks(readme):
        name = f"central:{'+'.join(presets)}"
        present = [found[p] for p in presets if p in found]
        missing = [p for p in presets if p not in found]
        if missing:
            incomplete.append(f"{name} ({', '.join(missing)} not run here)")
        if not present:
            continue
        old = table_columns(block_parts(readme, name)[1].splitlines())
        columns, notes = {}, []
        for p in presets:
            if p in found:
                claims, plan = found[p].figures / "claims.csv", found[p].results / "plan.csv"
                columns |= central_cells(central_columns_of(p, claims, plan, len(presets) > 1))
            else:
                kept = {h: cells for h, cells in old.items() if of_preset(h, p)}
                columns |= kept
                notes.append(
                    f"`{p}`: columns kept from this README (its results are neither here nor "
                    f"published; `make run PRESET={p}` regenerates them)."
                    if kept
                    else f"`{p}`: no results in this checkout yet (`make run PRESET={p}`)."
                )
        table = markdown_table(columns).splitlines()
        sources = ", ".join(where(p) for p in present)
        readme = splice(readme, name, table + [line for n in notes for line in ("", n)], sources)
    return readme, incomplete


def results_page(preset: Preset) -> str:
    """docs/results/<preset>.md: the preset's claims.md and tables, naming where they are."""
    claims = (preset.figures / "claims.md").read_text().split("\n", 1)[1]
    folder = f"{'published' if preset.published else 'paper_figures'}/{preset.name}/"
    lines = [
        f"# Results of preset `{preset.name}`",
        "",
        f"<!-- generated from {folder} by `make readme`; do not edit -->",
        f"Copied from `{folder}` (figures, their captions and provenance sidecars are there; "
        f"`gcnc audit {folder}` re-checks them).",
        claims.rstrip(),
    ]
    for table, heading in RESULT_TABLES:
        path = preset.figures / f"{table}.md"
        if path.exists():
            lines += ["", f"## {heading} (`{table}`)", "", path.read_text().rstrip()]
    return "\n".join(lines) + "\n"


def update_readme(readme_path: str | Path) -> tuple[bool, list[str]]:
    """Rewrite README's central blocks and docs/results/<preset>.md for every preset with results
    (in the checkout that holds README); returns whether anything changed and notes on what was
    left out."""
    readme_path = Path(readme_path)
    root = readme_path.resolve().parent
    if not readme_path.is_file():
        raise ValueError(f"no file {readme_path}: run it in the study's checkout (README.md)")
    old = readme_path.read_text()
    if not central_blocks(old):
        raise ValueError(
            f"{readme_path} has no '<!-- central:<preset>+... -->' ... '<!-- /central:... -->' "
            "block to fill: add one where the central claims go (README.md has one)"
        )
    new, incomplete = splice_central(old, root)
    changed = new != old
    if changed:
        readme_path.write_text(new)
    pages = root / "docs" / "results"
    pages.mkdir(parents=True, exist_ok=True)
    for preset in find_presets(root):
        page = pages / f"{preset.name}.md"
        text = results_page(preset)
        if not page.exists() or page.read_text() != text:
            page.write_text(text)
            changed = True
    return changed, [f"block {name}" for name in incomplete]
