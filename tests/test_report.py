"""The study's report (gcnc.study.publish.report) over several presets: the answer first, the
paper's order,
readable in a browser (headless Chromium where installed: screenshots in the test's tmp_path)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from gcnc.study.claims.paper import claims_table  # noqa: E402
from gcnc.study.claims.report import claims_markdown, main_group  # noqa: E402
from gcnc.study.publish.report import build_report, figure_rank, find_presets  # noqa: E402
from tests import claims_world as world  # noqa: E402

FIGURES = ["fig_li_finetune", "fig4_transfer", "fig1_gc_collapse_nc", "figA5_gaussians"]
FIGURES += ["fig3_bound"]
HASH = "f" * 64  # a config hash: 64 characters that must wrap, not overflow


def _preset(root: Path, folder: Path, name: str, relations=None) -> None:
    """A preset's outputs as the workflow leaves them: claims, plan, figures with sidecars."""
    results = root / "results" / name if folder.name == "paper_figures" else folder / name
    inputs = world.write_world(results, relations)
    figs = folder / name
    figs.mkdir(parents=True, exist_ok=True)
    table = claims_table(inputs, {"seed": 0, "bootstrap": 20}, "x")
    table.to_csv(figs / "claims.csv", index=False)
    plan = pd.read_csv(inputs["plan"])
    (figs / "claims.md").write_text(claims_markdown(table, name, {"seed": 0}, main_group(plan)))
    for fig_name in FIGURES:
        fig, ax = plt.subplots(figsize=(6.5, 3))
        ax.plot([1, 2, 3])
        fig.savefig(figs / f"{fig_name}.png", dpi=80)
        plt.close(fig)
        sidecar = {"git": {"commit": "0123456789abcdef", "dirty": False}, "config_sha256": HASH,
                   "caption": f"Analogue of {fig_name}.", "function": {"name": "gcnc.f"},
                   "reproduce": f"snakemake --config preset={name} -- {fig_name}.png"}  # fmt: skip
        (figs / f"{fig_name}.prov.json").write_text(json.dumps(sidecar))
    (figs / "table_terminal_phase.md").write_text("caption\n\n| a | b |\n|---|---|\n| 1 | 2 |\n")


def test_the_report_covers_each_preset_answer_first_in_the_paper_s_order(tmp_path):
    _preset(tmp_path, tmp_path / "paper_figures", "quick")
    _preset(tmp_path, tmp_path / "published", "standard", {"nc": -1})  # committed results only
    assert [p.name for p in find_presets(tmp_path)] == ["quick", "standard"]
    out = tmp_path / "report.html"
    assert build_report(tmp_path, out) == ["quick", "standard"]
    page = out.read_text()
    answer, rest = page.split("id='quick'", 1)
    assert "The answer: the paper's central claims" in answer
    assert "quick" in answer and "standard" in answer and "<b>NO</b>" in answer  # flipped NC
    assert answer.count("<img") == 1  # Fig. 1 on the landing section
    order = re.findall(r"<figure id='quick-([a-z0-9-]+)'>", rest)
    expected = sorted(FIGURES, key=figure_rank)
    assert [o.replace("-", "_") for o in order] == [f.lower() for f in expected]
    assert expected[0] == "fig1_gc_collapse_nc" and expected[-1] == "fig_li_finetune"
    assert "published/standard/" in page and HASH in page and "plan={" not in page
    with pytest.raises(ValueError, match="run `make run`"):
        build_report(tmp_path / "empty", tmp_path / "none.html")


def test_the_report_reads_in_a_browser(tmp_path):
    """At 1,400 px: the sidebar takes under a fifth of the width, nothing runs past the right
    edge (hashes and commands wrap), every figure loads, the verdict column of the claims is
    on screen."""
    from tests.report_browser import CHROMIUM, Browser

    if CHROMIUM is None or shutil.which("chromium") is None:
        pytest.skip("needs chromium (Debian: apt-get install chromium)")
    _preset(tmp_path, tmp_path / "paper_figures", "quick")
    out = tmp_path / "report.html"
    build_report(tmp_path, out)
    with Browser(tmp_path / "chromium", width=1400, height=1000) as browser:
        browser.open(out.as_uri())
        browser.screenshot(tmp_path / "landing.png")
        nav = browser.eval("document.querySelector('nav').getBoundingClientRect().width")
        assert nav < 1400 / 5
        wide = browser.eval("document.documentElement.scrollWidth")
        assert wide <= 1400, wide
        loaded = browser.eval("[...document.images].every(i => i.complete && i.naturalWidth)")
        assert loaded
        browser.eval("document.getElementById('quick-claims').scrollIntoView()")
        browser.screenshot(tmp_path / "claims.png")
        first = browser.eval(
            "(() => { const c = document.querySelector('#quick-claims ~ div table th');"
            " const r = c.getBoundingClientRect(); return [c.textContent, r.right]; })()"
        )
        assert first[0] == "verdict" and first[1] < 1400
