"""The paper's central claims side by side: one row per claim, one column per study.

README quotes, for each central claim (Sec. 4 and 5: the knobs lower GC and NC, GC -> geometric
collapse -> NC, source GC -> target NC -> few-shot accuracy), its verdict in several studies at
once: the Fashion-MNIST study of ``quick`` and of ``standard``, or every training protocol of the
``controls`` experiment. The cells are read from each preset's claims.csv (never typed by hand):
verdict, effect size with its 95% interval over seeds, and the Holm-adjusted p-value.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from gcnc.study.claims.catalogue import CENTRAL
from gcnc.study.claims.report import md_cell
from gcnc.study.plan import protocol_of
from gcnc.study.results.records import read_table


def _number(v: float) -> str:
    return f"{v:.2f}" if math.isfinite(v) else "-"


SHORT = {"reproduced": "yes", "not reproduced": "**NO**", "inconclusive": "?"}


def _cell(hit: pd.DataFrame) -> str:
    """'yes 0.57 [0.31, 1.05] p=0.004': verdict, effect with its interval over seeds and the
    Holm-adjusted p of the claim's row."""
    if hit.empty:
        return "not run"
    row = hit.iloc[0]
    if str(row.get("note", "")).startswith("not testable"):
        return "too few runs"
    interval = ""
    if math.isfinite(row["effect_low"]):
        interval = f" [{_number(row['effect_low'])}, {_number(row['effect_high'])}]"
    p = f" p={row['p_adj']:.2g}" if math.isfinite(row["p_adj"]) else ""
    return f"{SHORT.get(row['verdict'], row['verdict'])} {_number(row['effect'])}{interval}{p}"


def central_cells(columns: dict[str, tuple[pd.DataFrame, str]]) -> dict[str, dict[str, str]]:
    """``label -> {short claim -> cell}`` for ``label -> (claims table, study group)``; each cell
    the verdict (yes / **NO** / ?), effect, its interval over seeds and the adjusted p."""
    return {
        label: {
            short: _cell(claims[(claims.claim == claim) & (claims.study == group)])
            for claim, short in CENTRAL
        }
        for label, (claims, group) in columns.items()
    }


def markdown_table(cells: dict[str, dict[str, str]]) -> str:
    """A Markdown table: one row per central claim, one column per ``label -> {short claim ->
    cell}`` (a claim a column lacks reads 'not recorded')."""
    header = "| claim | " + " | ".join(md_cell(label) for label in cells) + " |"
    lines = [header, "|---|" + "---|" * len(cells)]
    for _, short in CENTRAL:
        row = [column.get(short, "not recorded") for column in cells.values()]
        lines.append(f"| {md_cell(short)} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def central_table(columns: dict[str, tuple[pd.DataFrame, str]]) -> str:
    """The central claims' Markdown table of ``label -> (claims table, study group)``."""
    return markdown_table(central_cells(columns))


def central_columns_of(
    preset: str, claims_csv: Path, plan_csv: Path, name_preset: bool
) -> dict[str, tuple[pd.DataFrame, str]]:
    """One preset's columns: each comparison group on the dataset of its Fig. 1 study, labelled
    by the preset's name where it has one such group, else by how the group's runs were trained
    (:func:`gcnc.study.plan.protocol_of`), after the preset's name with ``name_preset``."""
    claims, plan = read_table(claims_csv), read_table(plan_csv)
    dataset = plan.loc[plan.study == "fig1", "dataset"].iloc[0]
    rows = plan[plan.dataset == dataset].drop_duplicates("group")
    columns: dict[str, tuple[pd.DataFrame, str]] = {}
    for _, row in rows.iterrows():
        label = preset if len(rows) == 1 else protocol_of(row["group"])
        if name_preset and len(rows) > 1:
            label = f"{preset}: {label}"
        columns[label] = (claims, row["group"])
    return columns


def central_columns(
    presets: list[str], root: Path, name_presets: bool | None = None
) -> dict[str, tuple[pd.DataFrame, str]]:
    """The columns of a central-claims table from ``<root>/paper_figures/<preset>/claims.csv``
    and ``<root>/results/<preset>/plan.csv`` (:func:`central_columns_of`), the presets named
    when the table has several (or ``name_presets`` says so)."""
    if name_presets is None:
        name_presets = len(presets) > 1
    columns: dict[str, tuple[pd.DataFrame, str]] = {}
    for preset in presets:
        claims = root / "paper_figures" / preset / "claims.csv"
        plan = root / "results" / preset / "plan.csv"
        columns |= central_columns_of(preset, claims, plan, name_presets)
    return columns
