"""One HTML report over every preset with results: the answer first, then each preset's claims,
figures (in the paper's order, our extensions last) and tables, each with its caption and
provenance. Self-contained (figures embedded), so it opens anywhere; `make report` writes it.

A preset's outputs are read from ``paper_figures/<preset>/`` and ``results/<preset>/`` where this
checkout ran it, else from ``published/<preset>/`` (the small outputs committed to the
repository). Everything shown comes from files: claims.csv, plan.csv, the figures and their
provenance sidecars (caption, commit, config hash, the command that remakes it).
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from markdown_it import MarkdownIt

from gcnc.study.claims.central import central_cells, central_columns_of, markdown_table
from gcnc.study.claims.report import counts

PRESET_ORDER = ("quick", "standard", "controls", "smoke", "paper_mini", "paper")
FIGURE_ORDER = (  # (name prefix, rank): the paper's figures first, our extensions last
    ("fig1_gc_collapse_nc", 10), ("fig1_controls", 11), ("fig2", 20), ("fig3", 30),
    ("fig4_transfer", 40), ("figA5_learning_curves", 50), ("figA22", 55), ("figA5_transfer", 70),
    ("figA5", 60), ("fig_li", 90),
)  # fmt: skip
STYLE = """
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: #1e293b; }
nav { position: fixed; top: 0; bottom: 0; left: 0; width: 13rem; overflow-y: auto;
      background: #f1f5f9; padding: 1rem 0.8rem; font-size: 13px; box-sizing: border-box; }
nav a { display: block; color: #1e3a8a; text-decoration: none; padding: 0.1rem 0; }
nav .preset { font-weight: 600; margin-top: 0.8rem; }
main { margin-left: 13rem; padding: 1rem 2rem; max-width: 75rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; border-bottom: 1px solid #cbd5e1; }
h3 { font-size: 1.05rem; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { max-width: 60rem; }
.prov { font-size: 12px; color: #475569; overflow-wrap: anywhere; word-break: break-all; }
.wide { overflow-x: auto; }
table { border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #cbd5e1; padding: 0.2rem 0.45rem; text-align: left;
         vertical-align: top; }
th { background: #e2e8f0; }
code { background: #f1f5f9; padding: 0 0.2rem; overflow-wrap: anywhere; }
"""


@dataclass(frozen=True)
class Preset:
    """Where a preset's outputs are: its figures folder and its results folder."""

    name: str
    figures: Path
    results: Path

    @property
    def published(self) -> bool:
        return self.figures.parts[-2] == "published"


def find_presets(root: Path) -> list[Preset]:
    """Presets with a claims.csv here (``paper_figures/<p>``, with ``results/<p>``) or published
    (``published/<p>``, holding both), in README's order."""
    found: dict[str, Preset] = {}
    for claims in sorted((root / "published").glob("*/claims.csv")):
        folder = claims.parent
        found[folder.name] = Preset(folder.name, folder, folder)
    for claims in sorted((root / "paper_figures").glob("*/claims.csv")):
        name = claims.parent.name
        if (root / "results" / name / "plan.csv").exists():
            found[name] = Preset(name, claims.parent, root / "results" / name)
    rank = {p: i for i, p in enumerate(PRESET_ORDER)}
    return sorted(found.values(), key=lambda p: (rank.get(p.name, 99), p.name))


def figure_rank(name: str) -> tuple[int, str]:
    return next((r for prefix, r in FIGURE_ORDER if name.startswith(prefix)), 80), name


def _markdown(text: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(text)


def _anchor(*parts: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")


def provenance_line(sidecar: dict, name: str) -> str:
    """Commit, tree, preset config hash and the command that remakes the artifact."""
    git = sidecar.get("git", {})
    commit = (git.get("commit") or "unknown")[:12]
    tree = {True: "dirty", False: "clean"}.get(git.get("dirty"), "unknown")
    function = sidecar.get("function", {}).get("name", "")
    return (
        f"<p class='prov'>Provenance ({html.escape(name)}.prov.json): commit "
        f"<code>{commit}</code> ({tree} tree); config sha256 "
        f"<code>{html.escape(str(sidecar.get('config_sha256', '')))}</code>; computed by "
        f"<code>{html.escape(function)}</code>; remake with "
        f"<code>{html.escape(str(sidecar.get('reproduce', '')))}</code></p>"
    )


def _sidecar(folder: Path, name: str) -> dict:
    path = folder / f"{name}.prov.json"
    return json.loads(path.read_text()) if path.exists() else {}


def figure_html(preset: Preset, name: str) -> str:
    png = preset.figures / f"{name}.png"
    data = base64.b64encode(png.read_bytes()).decode()
    sidecar = _sidecar(preset.figures, name)
    text = html.escape(sidecar.get("caption", ""))
    return (
        f"<figure id='{_anchor(preset.name, name)}'><h3>{html.escape(name)}</h3>"
        f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>"
        f"<figcaption>{text}{provenance_line(sidecar, name)}</figcaption></figure>"
    )


def _paper(preset: Preset) -> pd.DataFrame:
    claims = pd.read_csv(preset.figures / "claims.csv")
    return claims.assign(note=claims.note.fillna(""))[claims.kind == "paper"]


def preset_section(preset: Preset) -> tuple[str, list[tuple[str, str]]]:
    """A preset's section (headline counts, claims, figures, tables) and its navigation links."""
    paper = _paper(preset)
    where = "published/" if preset.published else "paper_figures/"
    head = (
        f"<h2 id='{_anchor(preset.name)}'>Preset <code>{preset.name}</code></h2>"
        f"<p>The paper's claims in this preset: {counts(paper)}. Read from "
        f"<code>{where}{preset.name}/</code>.</p>"
    )
    links = [(preset.name, _anchor(preset.name))]
    claims_md = (preset.figures / "claims.md").read_text()
    parts = [head, f"<h3 id='{_anchor(preset.name, 'claims')}'>Claims</h3>",
             f"<div class='wide'>{_markdown(claims_md.split(chr(10), 1)[1])}</div>"]  # fmt: skip
    links.append(("claims", _anchor(preset.name, "claims")))
    names = sorted((p.stem for p in preset.figures.glob("*.png")), key=figure_rank)
    for name in names:
        parts.append(figure_html(preset, name))
        links.append((name, _anchor(preset.name, name)))
    for table in sorted(preset.figures.glob("table_*.md")):
        anchor = _anchor(preset.name, table.stem)
        sidecar = _sidecar(preset.figures, table.stem)
        parts.append(f"<h3 id='{anchor}'>{table.stem}</h3>"
                     f"<div class='wide'>{_markdown(table.read_text())}</div>"
                     + provenance_line(sidecar, table.stem))  # fmt: skip
        links.append((table.stem, anchor))
    return "\n".join(parts), links


def answer_section(presets: list[Preset]) -> str:
    """The central claims of every preset side by side, and Fig. 1 of the first preset."""
    columns = {}
    for preset in presets:
        columns |= central_columns_of(preset.name, preset.figures / "claims.csv",
                                      preset.results / "plan.csv", len(presets) > 1)  # fmt: skip
    table = _markdown(markdown_table(central_cells(columns)))
    headlines = "".join(
        f"<li><code>{p.name}</code>: the paper's claims {counts(_paper(p))}</li>" for p in presets
    )
    fig1 = next((p for p in presets if (p.figures / "fig1_gc_collapse_nc.png").exists()), None)
    first = figure_html(fig1, "fig1_gc_collapse_nc") if fig1 else ""
    return (
        "<h2 id='answer'>The answer: the paper's central claims</h2>"
        "<p>yes = reproduced, <b>NO</b> = the opposite holds, ? = inconclusive (Holm-adjusted "
        "p &le; 0.05 within each preset's comparison group); each cell: verdict, effect size "
        f"[95% interval over seeds], adjusted p.</p><div class='wide'>{table}</div>"
        f"<ul>{headlines}</ul>{first}"
    )


def build_report(root: Path, out: Path) -> list[str]:
    """Write the report of every preset with results under ``root`` to ``out``; returns the
    presets it covers (a ``ValueError`` when there are none)."""
    presets = find_presets(root)
    if not presets:
        raise ValueError(
            f"no results under {root}: run `make run` (or `make run PRESET=<preset>`) first"
        )
    sections, nav = [answer_section(presets)], ["<a href='#answer'><b>The answer</b></a>"]
    for preset in presets:
        body, links = preset_section(preset)
        sections.append(body)
        nav.append(f"<a class='preset' href='#{links[0][1]}'>{preset.name}</a>")
        nav += [f"<a href='#{a}'>{html.escape(t)}</a>" for t, a in links[1:]]
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>gcnc: geometric complexity and neural collapse, the study's report</title>"
        f"<style>{STYLE}</style></head><body><nav>{''.join(nav)}</nav><main>"
        "<h1>Geometric complexity and neural collapse: the study's report</h1>"
        + "\n".join(sections)
        + "</main></body></html>"
    )
    out.write_text(page, encoding="utf-8")
    return [p.name for p in presets]
