"""claims.csv and claims.md: the claims table with its verdict rule, for one preset."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gcnc.claims.paper import claims_table
from gcnc.claims.stats import VERDICT_RULE

HEADER = [
    "claim",
    "study",
    "runs",
    "predicted",
    "observed",
    "statistic",
    "value",
    "95% CI",
    "verdict",
]


def md_cell(text: Any) -> str:
    """Text for one Markdown table cell: pipes escaped, so the row keeps its columns."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _num(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.3g}"


def claims_markdown(table: pd.DataFrame, preset: str, cfg: dict[str, Any]) -> str:
    """The claims table as Markdown, headed by the verdict rule and a count of verdicts."""
    counts = table.verdict.value_counts()
    summary = ", ".join(
        f"{counts.get(v, 0)} {v}" for v in ("reproduced", "not reproduced", "inconclusive")
    )
    lines = [
        f"# Claims of the paper, preset `{preset}`",
        "",
        f"{len(table)} rows: {summary}.",
        "",
        "Verdict rule:",
        VERDICT_RULE,
        f"Bootstrap: {cfg['bootstrap']} resamples, seed {cfg['seed']}.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "---|" * len(HEADER),
    ]
    untestable = table.statistic.str.contains("too few|no runs|nothing to test", regex=True)
    for r in table[~untestable].itertuples():
        runs = "-" if not np.isfinite(r.n_runs) else str(int(r.n_runs))
        ci = "-" if not np.isfinite(r.ci_low) else f"[{_num(r.ci_low)}, {_num(r.ci_high)}]"
        cells = [
            r.claim,
            r.study,
            runs,
            r.predicted,
            r.direction,
            r.statistic,
            _num(r.value),
            ci,
            f"**{r.verdict}**",
        ]
        lines.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    if untestable.any():
        lines += ["", "Not testable in this preset (inconclusive by the rule above):", ""]
        lines += [
            f"- {r.claim} - {r.study}: {r.statistic}"
            + ("" if r.study == "-" else f" ({int(r.n_runs)} runs)")
            for r in table[untestable].itertuples()
        ]
    return "\n".join(lines) + "\n"


def claims_report(
    inputs: dict[str, str],
    cfg: dict[str, Any],
    gc_sampling_run: str,
    preset: str,
    md_path: str,
    csv_path: str,
) -> pd.DataFrame:
    """Write claims.csv and claims.md (with the verdict rule) for one preset."""
    table = claims_table(inputs, cfg, gc_sampling_run)
    table.to_csv(csv_path, index=False)
    with open(md_path, "w") as fh:
        fh.write(claims_markdown(table, preset, cfg))
    return table
