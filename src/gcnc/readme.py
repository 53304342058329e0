"""README's claims section, generated from a preset's claims.md (never copied by hand).

README.md holds the block between ``<!-- claims:<preset> -->`` and ``<!-- /claims:<preset> -->``;
:func:`splice_claims` replaces it with the table of ``paper_figures/<preset>/claims.md``.
"""

from __future__ import annotations

from pathlib import Path


def claims_table_lines(claims_md: str) -> list[str]:
    """The Markdown table rows (header included) of a claims.md."""
    rows = [line for line in claims_md.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        raise ValueError("claims.md has no table with at least one row")
    return rows


def splice_claims(readme: str, claims_md: str, preset: str, source: str) -> str:
    """``readme`` with its claims block for ``preset`` replaced by the table of ``claims_md``."""
    start, end = f"<!-- claims:{preset} -->", f"<!-- /claims:{preset} -->"
    if readme.count(start) != 1 or readme.count(end) != 1:
        raise ValueError(f"README needs exactly one '{start}' ... '{end}' block")
    head, rest = readme.split(start)
    _, tail = rest.split(end)
    block = [start, f"<!-- generated from {source} by `make readme`; do not edit -->", ""]
    block += claims_table_lines(claims_md) + ["", end]
    return head + "\n".join(block) + tail


def update_readme(readme_path: str | Path, claims_path: str | Path, preset: str) -> bool:
    """Rewrite README's claims block from claims.md; returns whether README changed."""
    readme_path, claims_path = Path(readme_path), Path(claims_path)
    old = readme_path.read_text()
    new = splice_claims(old, claims_path.read_text(), preset, str(claims_path))
    if new != old:
        readme_path.write_text(new)
    return new != old
