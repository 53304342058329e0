"""claims.csv and claims.md for one preset: the paper's claims on the main study first, verdict
first; then its other comparison groups, our extensions and the sanity checks, each apart; the
headline counts only the paper's claims."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gcnc.study.claims.catalogue import CENTRAL
from gcnc.study.claims.paper import claims_table
from gcnc.study.claims.stats import ALPHA, VERDICT_RULE

VERDICTS = ("reproduced", "not reproduced", "inconclusive")
SHORT = {"reproduced": "yes", "not reproduced": "NO", "inconclusive": "?",
         "not comparable": "n/c", "pass": "pass", "fail": "FAIL"}  # fmt: skip
HEADER = ["verdict", "claim", "paper", "runs (seeds)", "effect [95% interval over seeds]", "p",
          "Holm p", "test"]  # fmt: skip


def md_cell(text: Any) -> str:
    """Text for one Markdown table cell: pipes escaped, so the row keeps its columns."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def untestable_rows(table: pd.DataFrame) -> pd.Series:
    """Rows the preset could not test (too few runs or values for any p <= 0.05): their note
    says so; inconclusive by rule, listed apart from the tables."""
    return table.note.fillna("").str.startswith("not testable")


def number(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.3g}"


def p_text(p: float) -> str:
    return "-" if not np.isfinite(p) else f"{p:.2g}"


def effect_text(row: Any) -> str:
    """'0.57 [0.31, 1.05] (nc at lr 0.2 / at 0.01)'."""
    if not np.isfinite(row.effect):
        return "-"
    interval = "" if not np.isfinite(row.effect_low) else (
        f" [{number(row.effect_low)}, {number(row.effect_high)}]"
    )
    return f"{number(row.effect)}{interval} ({row.effect_label})"


def main_group(plan: pd.DataFrame) -> str:
    """The main study: the comparison group of the preset's Fig. 1 study (else its first)."""
    fig1 = plan[plan.study == "fig1"]
    return str((fig1 if len(fig1) else plan).group.iloc[0]) if len(plan) else "-"


def counts(rows: pd.DataFrame) -> str:
    tested = rows[~untestable_rows(rows) & rows.verdict.isin(VERDICTS) & rows.p.notna()]
    c = tested.verdict.value_counts()
    return ", ".join(f"{c.get(v, 0)} {v}" for v in VERDICTS)


def _table(rows: pd.DataFrame) -> list[str]:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows.itertuples():
        runs = "-" if not np.isfinite(r.n_runs) else f"{int(r.n_runs)} ({int(r.seeds or 0)})"
        cells = [f"**{r.verdict}**", r.claim, r.source, runs, effect_text(r), p_text(r.p),
                 p_text(r.p_adj), r.test]  # fmt: skip
        if r.verdict == "not comparable" or r.note == "summary":
            cells[-1] = f"{r.test}. {r.note}" if r.note != "summary" else r.test
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return lines


def _sections(table: pd.DataFrame, main: str) -> list[str]:
    shown = table[~untestable_rows(table)]
    paper = shown[shown.kind == "paper"]
    lines = ["", f"## The paper's claims on the main study: {main}", ""]
    lines += _table(paper[paper.study == main])
    for group, rows in paper[paper.study != main].groupby("study", sort=False):
        lines += ["", f"## The paper's claims on {group}", ""] + _table(rows)
    for group, rows in shown[shown.kind == "extension"].groupby("study", sort=False):
        lines += ["", f"## Extension (ours): {group}", ""] + _table(rows)
    sanity = shown[shown.kind == "sanity"]
    if len(sanity):
        lines += ["", "## Sanity checks (true by construction; never counted)", ""]
        lines += ["| result | check | study | value | expected |", "|---|---|---|---|---|"]
        lines += [
            f"| **{r.verdict}** | {md_cell(r.claim)} | {md_cell(r.study)} | {number(r.effect)} "
            f"({md_cell(r.effect_label)}) | {md_cell(r.predicted)} |"
            for r in sanity.itertuples()
        ]
    return lines


def claims_markdown(table: pd.DataFrame, preset: str, cfg: dict[str, Any], main: str) -> str:
    """claims.md: headline, verdict rule, the tables by kind, what is not testable, and what
    each claim tests in the paper's words."""
    paper = table[table.kind == "paper"]
    untestable = untestable_rows(table)
    lines = [
        f"# Claims of the paper, preset `{preset}`",
        "",
        f"**The paper's claims on the main study** ({main}): "
        f"{counts(paper[paper.study == main])}.",
        "",
        f"**All the paper's claims in this preset** ({paper.study.nunique()} comparison groups): "
        f"{counts(paper)}; {(paper.verdict == 'not comparable').sum()} not comparable, "
        f"{(untestable & (table.kind == 'paper')).sum()} not testable here. Our extensions and "
        "the sanity checks are listed apart and never counted.",
        "",
        f"## How a verdict is reached (family-wise error rate {ALPHA:g})",
        VERDICT_RULE.rstrip(),
        f"Monte Carlo tests and bootstrap intervals use seed {cfg['seed']}.",
    ]
    lines += _sections(table, main)
    if untestable.any():
        lines += ["", "## Not testable in this preset (inconclusive by the rule above)", ""]
        lines += [
            f"- {r.claim} - {r.study} ({r.kind}): {r.note.removeprefix('not testable: ')}"
            for r in table[untestable].itertuples()
        ]
    return "\n".join(lines + ["", "## What each claim tests", "", *_sources(table)]) + "\n"


def _sources(table: pd.DataFrame) -> list[str]:
    """Each passage of the paper once (verbatim in quotes, or our paraphrase), then the claims
    that test it with the figure or section they read; claims of ours last."""
    rows = table.drop_duplicates("claim").assign(words=table.paper_text.fillna(""))
    rows = rows.sort_values("words", key=lambda w: w.eq(""), kind="stable")  # ours last
    lines = []
    for words, claims in rows.groupby("words", sort=False):
        tested = "; ".join(f"{r.claim} ({r.source})" for r in claims.itertuples())
        lines.append(f"- {words or 'Ours, not a claim of the paper'}  \n  tested by: {tested}")
    return lines


def claims_report(
    inputs: dict[str, str],
    cfg: dict[str, Any],
    gc_sampling_run: str,
    preset: str,
    md_path: str,
    csv_path: str,
) -> pd.DataFrame:
    """Write claims.csv and claims.md for one preset."""
    table = claims_table(inputs, cfg, gc_sampling_run)
    table.to_csv(csv_path, index=False)
    main = main_group(pd.read_csv(inputs["plan"]))
    with open(md_path, "w") as fh:
        fh.write(claims_markdown(table, preset, cfg, main))
    return table


def console_summary(claims_csv: str, plan_csv: str, figures_dir: str, preset: str) -> str:
    """What `make run` prints last: the paper's central claims on the main study, verdict first,
    with the effect size and the Holm-adjusted p; the rest counted in a line each; where the
    outputs are."""
    table = pd.read_csv(claims_csv)
    table["note"] = table.note.fillna("")
    main = main_group(pd.read_csv(plan_csv))
    paper = table[(table.kind == "paper") & ~untestable_rows(table)]
    at_main = table[(table.study == main) & (table.kind != "sanity") & ~untestable_rows(table)]
    ours = " - our extension: the paper does not use this dataset" if (
        len(at_main) and (at_main.kind == "extension").all()) else ""  # fmt: skip
    lines = [f"The paper's central claims on the main study ({main}){ours}; yes = reproduced, NO "
             f"= not reproduced, ? = inconclusive (Holm-adjusted p <= {ALPHA:g}):"]  # fmt: skip
    at_main = at_main.drop_duplicates("claim").set_index("claim")
    for claim, short in CENTRAL:
        if claim in at_main.index:
            r = at_main.loc[claim]
            effect = f"{number(r.effect)} = {r.effect_label}" if np.isfinite(r.effect) else "-"
            lines.append(f"  {SHORT.get(r.verdict, r.verdict):<4} {short:<40} "
                         f"Holm p {p_text(r.p_adj):<8} {effect}")  # fmt: skip
    lines.append(f"All the paper's claims on the main study: {counts(paper[paper.study == main])}")
    for group, rows in paper[paper.study != main].groupby("study", sort=False):
        lines.append(f"Paper's claims on {group}: {counts(rows)}")
    ext = table[(table.kind == "extension") & ~untestable_rows(table)]
    sanity = table[table.kind == "sanity"]
    failed = (sanity.verdict == "fail").sum()
    lines += [
        f"Extensions (ours): {counts(ext)}. Sanity checks: {len(sanity) - failed} pass, "
        f"{failed} fail.",
        f"All the paper's claims: {counts(table[table.kind == 'paper'])} "
        f"({untestable_rows(table[table.kind == 'paper']).sum()} not testable here).",
        f"Figures, tables, claims: {figures_dir}/ (claims.md explains every row)",
        f"Runs and metrics:        results/{preset}/",
        "Browse all of it:        make report  (writes report.html: every preset with results)",
    ]
    return "\n".join(lines)
