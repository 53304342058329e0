"""README's claims block is spliced from claims.md, and every Markdown table row keeps its cells."""

import pytest

from gcnc.study.claims.report import md_cell
from gcnc.study.publish.readme import splice_claims

CLAIMS = """# Claims
rule text
| claim | statistic | value | 95% CI | verdict |
|---|---|---|---|---|
| a \\| b | x | 1 | [0, 2] | **reproduced** |
"""
README = "intro\n<!-- claims:quick -->\nold table\n<!-- /claims:quick -->\nnext paragraph\n"


def _cells(row: str) -> int:
    return len(row.replace("\\|", "").strip().strip("|").split("|"))


def test_splice_replaces_only_the_block_and_is_idempotent():
    out = splice_claims(README, CLAIMS, "quick", "paper_figures/quick/claims.md")
    assert "old table" not in out and out.startswith("intro\n")
    assert out.endswith("<!-- /claims:quick -->\nnext paragraph\n")
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert len(rows) == 3 and {_cells(r) for r in rows} == {5}
    assert splice_claims(out, CLAIMS, "quick", "paper_figures/quick/claims.md") == out


def test_splice_needs_one_block():
    with pytest.raises(ValueError, match="claims:smoke"):
        splice_claims(README, CLAIMS, "smoke", "x")


def test_claims_cells_escape_pipes():
    row = f"| {md_cell('|relative bias| of GC')} | y |"
    assert _cells(row) == 2
    assert md_cell("a\nb") == "a b"


def test_every_readme_table_keeps_its_columns():
    """Every table in README.md (the generated claims block included) has as many cells in each
    row as in its header once rendered, and no row swallows the paragraph after it."""
    from pathlib import Path

    from tests.markdown_tables import rendered_tables, source_cell_counts

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    counts = source_cell_counts(text)
    assert counts, "README has tables"
    for table in counts:
        assert len(set(table)) == 1, table
    for table in rendered_tables(text):
        assert all(not cell.startswith("In plain words") for row in table for cell in row)


def test_readme_measuring_snippets_run_as_written(capsys):
    """The Python blocks of README's "Measuring GC and NC in your own network" run as written, in
    order and in one namespace (the later blocks use the first one's model and data)."""
    import re
    from pathlib import Path

    import gcnc

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = text.split("## Measuring GC and NC in your own network\n", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    namespace: dict = {}
    first = None
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
        first = first or namespace["m"]
    assert isinstance(first, gcnc.Measurement) and first.n_examples == 60
    assert first.gc_estimator == "hutchinson" and first.embedding == "input of 'fc' (512 -> 10)"
    assert namespace["m"].n_examples == 120 and namespace["m"].accuracy is not None
    assert "gc_estimator        hutchinson" in capsys.readouterr().out
