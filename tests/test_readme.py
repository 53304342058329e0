"""README and the docs: the library's worked example runs as written, the results pages are
generated from claims.md and the tables, and every Markdown table row keeps its cells."""

from __future__ import annotations

import re
from pathlib import Path

from gcnc.cli import main
from gcnc.study.claims.report import md_cell
from gcnc.study.publish.readme import results_page, update_readme
from gcnc.study.publish.report import Preset
from tests.markdown_tables import rendered_tables, source_cell_counts

ROOT = Path(__file__).resolve().parents[1]


def _cells(row: str) -> int:
    return len(row.replace("\\|", "").strip().strip("|").split("|"))


def test_claims_cells_escape_pipes():
    row = f"| {md_cell('|relative bias| of GC')} | y |"
    assert _cells(row) == 2
    assert md_cell("a\nb") == "a b"


def test_every_table_of_readme_and_docs_keeps_its_columns():
    """Every table in README.md and docs/ (the generated ones included) has as many cells in
    each row as in its header once rendered, and no row swallows the paragraph after it."""
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text()
        for table in source_cell_counts(text):
            assert len(set(table)) == 1, (path.name, table)
        for table in rendered_tables(text):
            assert all(not cell.startswith("In plain words") for row in table for cell in row)


def test_readme_is_short_and_opens_with_the_answer():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 260
    first_heading = re.search(r"^## (.*)$", text, re.M).group(1)
    assert first_heading.startswith("The answer")
    assert "<!-- central:" in text.split("## ", 2)[1]


def test_results_page_is_the_claims_and_tables_of_a_preset(tmp_path):
    figs = tmp_path / "published" / "standard"
    figs.mkdir(parents=True)
    (figs / "claims.md").write_text("# Claims\n\nrule\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    (figs / "table_poincare.md").write_text("caption\n\n| c |\n|---|\n| 3 |\n")
    page = results_page(Preset("standard", figs, figs))
    assert page.startswith("# Results of preset `standard`")
    assert "`published/standard/`" in page and "| 1 | 2 |" in page and "| 3 |" in page
    assert "# Claims" not in page  # its own title replaces claims.md's


def test_update_readme_writes_a_page_per_preset_with_results(tmp_path):
    from tests.test_central import _write

    _write(tmp_path, "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    (tmp_path / "paper_figures" / "quick" / "claims.md").write_text("# C\n\n| a |\n|---|\n| b |\n")
    readme = tmp_path / "README.md"
    readme.write_text("<!-- central:quick -->\nold\n<!-- /central:quick -->\n")
    assert main(["readme", "--readme", str(readme)]) == 0  # `make readme`, i.e. `gcnc readme`
    assert "old" not in readme.read_text()
    assert (tmp_path / "docs" / "results" / "quick.md").read_text().startswith("# Results")
    assert update_readme(readme) == (False, [])  # nothing left to change


def test_library_worked_example_runs_as_written(capsys):
    """The Python blocks of docs/library.md's worked example run as written, in order and in
    one namespace (the later blocks use the first one's model and data)."""
    import gcnc

    text = (ROOT / "docs" / "library.md").read_text()
    section = text.split("## A worked example", 1)[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 3
    namespace: dict = {}
    first = None
    for block in blocks:
        exec(compile(block, "docs/library.md", "exec"), namespace)
        first = first or namespace["m"]
    assert isinstance(first, gcnc.Measurement) and first.n_examples == 60
    assert first.gc_estimator == "hutchinson" and first.embedding == "input of 'fc' (512 -> 10)"
    assert namespace["m"].n_examples == 120 and namespace["m"].accuracy is not None
    assert "gc_estimator        hutchinson" in capsys.readouterr().out


def test_readme_without_its_block_or_absent_is_refused_with_what_to_do(tmp_path, capsys):
    plain = tmp_path / "README.md"
    plain.write_text("# a README without the central block\n")
    assert main(["readme", "--readme", str(plain)]) == 2
    assert "has no '<!-- central:" in capsys.readouterr().out
    assert plain.read_text() == "# a README without the central block\n"
    assert not (tmp_path / "docs").exists()  # nothing written beside it
    assert main(["readme", "--readme", str(tmp_path / "absent.md")]) == 2
    assert "no file" in capsys.readouterr().out
