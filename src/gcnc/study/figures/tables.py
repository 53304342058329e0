"""The paper's tables (Poincare constants, Sec. 4.1; bounds of Props. 4.1, 4.3, 5.1) and the
terminal-phase diagnostics of every run (:mod:`gcnc.study.pretraining.terminal`) as CSV and
Markdown."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gcnc.study.claims.report import md_cell
from gcnc.study.pretraining.terminal import terminal_summary
from gcnc.study.results.records import read_table


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)

    def fmt(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float | np.floating) else md_cell(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def render_table(plan: dict[str, Any], inputs: list[str], csv: str, md: str) -> None:
    """Write a paper table as CSV and Markdown."""
    data = read_table(inputs[0])
    if plan["name"] == "table_terminal_phase":  # inputs: metrics.csv, plan.csv
        table = terminal_summary(data, read_table(inputs[1]))
    elif plan["name"] == "table_poincare":
        table = data
    else:
        data["rhs_over_lhs"] = (data.rhs / data.lhs).replace([np.inf, -np.inf], np.nan)
        table = data.groupby(["bound", "c_method"], as_index=False).agg(
            rows=("holds", "size"),
            holds_fraction=("holds", "mean"),
            median_rhs_over_lhs=("rhs_over_lhs", "median"),
        )
        # Prop. 4.1 with the class-max factor (ours, gcnc.study.theory.bounds)
        if "holds_class_max" in data:
            tighter = data.assign(holds_class_max=data.holds_class_max.astype(float))
            share = tighter.groupby(["bound", "c_method"]).holds_class_max.mean()
            table["holds_fraction_class_max"] = share.reindex(
                pd.MultiIndex.from_frame(table[["bound", "c_method"]])
            ).to_numpy()
    table.to_csv(csv, index=False)
    with open(md, "w") as fh:
        fh.write(f"{plan['caption']}\n\n{_markdown(table)}")
