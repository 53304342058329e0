"""The paper's central claims side by side: one row per claim, one column per study.

README quotes, for each central claim (Sec. 4 and 5: the knobs lower GC and NC, GC -> geometric
collapse -> NC, source GC -> target NC -> few-shot accuracy), its verdict in several studies at
once: the Fashion-MNIST study of ``quick`` and of ``standard``, or every training protocol of the
``controls`` experiment. The cells are read from each preset's claims.csv (never typed by hand):
verdict, Spearman correlation and its 95% interval.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from gcnc.claims.report import md_cell, untestable_rows

CENTRAL = (  # (claim as claims.csv names it, short name in the table)
    ("higher learning rate lowers embedding GC", "higher LR lowers GC"),
    ("higher learning rate lowers NC", "higher LR lowers NC"),
    ("smaller batch size lowers embedding GC", "smaller batch lowers GC"),
    ("smaller batch size lowers NC", "smaller batch lowers NC"),
    ("larger L2 lowers embedding GC", "larger L2 lowers GC"),
    ("larger L2 lowers NC", "larger L2 lowers NC"),
    ("explicit GC regularisation lowers embedding GC", "GC penalty lowers GC"),
    ("explicit GC regularisation lowers NC", "GC penalty lowers NC"),
    (
        "lower GC gives lower geometric collapse (partly by construction: Eq. 7 is GC times a "
        "class-separation factor)",
        "lower GC, lower geometric collapse",
    ),
    ("lower geometric collapse gives lower NC (Prop. 4.1)", "lower geometric collapse, lower NC"),
    ("lower GC gives lower NC", "lower GC, lower NC"),
    ("lower pretraining GC gives lower target NC", "lower source GC, lower target NC"),
    ("lower target NC gives higher 5-shot accuracy", "lower target NC, higher 5-shot acc."),
    ("lower pretraining GC gives higher 5-shot accuracy", "lower source GC, higher 5-shot acc."),
)
SHORT = {"reproduced": "yes", "not reproduced": "**NO**", "inconclusive": "?"}


def _number(v: float) -> str:
    return f"{v:.2f}" if math.isfinite(v) else "-"


def _cell(hit: pd.DataFrame) -> str:
    """'yes -0.96 [-1.00, -0.78]': verdict, Spearman and its 95% interval of the claim's row."""
    if hit.empty:
        return "not run"
    if untestable_rows(hit).iloc[0]:
        return "too few runs"
    row = hit.iloc[0]
    interval = f"[{_number(row['ci_low'])}, {_number(row['ci_high'])}]"
    return f"{SHORT[row['verdict']]} {_number(row['value'])} {interval}"


def central_cells(columns: dict[str, tuple[pd.DataFrame, str]]) -> dict[str, dict[str, str]]:
    """``label -> {short claim -> cell}`` for ``label -> (claims table, study group)``; each cell
    the verdict (yes / **NO** / ?), Spearman value and 95% interval."""
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


def protocol(row: pd.Series) -> str:
    """How a plan row's runs were trained: 'cosine LR, 1500 steps[, batchnorm=False]'."""
    model = row["model"] if isinstance(row["model"], str) and row["model"] else ""
    return f"{row['lr_schedule']} LR, {row['steps']} steps" + (f", {model}" if model else "")


def central_columns(
    presets: list[str], root: Path, name_presets: bool | None = None
) -> dict[str, tuple[pd.DataFrame, str]]:
    """The columns of a central-claims table from ``<root>/paper_figures/<preset>/claims.csv``
    and ``<root>/results/<preset>/plan.csv``: each comparison group on the dataset of the
    preset's Fig. 1 study, labelled by the preset's name where it has one such group, else by
    how the group's runs were trained (:func:`protocol`), after the preset's name when the table
    has several presets (or ``name_presets`` says so)."""
    if name_presets is None:
        name_presets = len(presets) > 1
    columns: dict[str, tuple[pd.DataFrame, str]] = {}
    for preset in presets:
        claims = pd.read_csv(root / "paper_figures" / preset / "claims.csv")
        plan = pd.read_csv(root / "results" / preset / "plan.csv")
        dataset = plan.loc[plan.study == "fig1", "dataset"].iloc[0]
        rows = plan[plan.dataset == dataset].drop_duplicates("group")
        for _, row in rows.iterrows():
            label = preset if len(rows) == 1 else protocol(row)
            if name_presets and len(rows) > 1:
                label = f"{preset}: {label}"
            columns[label] = (claims, row["group"])
    return columns
