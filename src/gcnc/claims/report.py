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


def untestable_rows(table: pd.DataFrame) -> pd.Series:
    """Rows the preset could not test (too few runs, nothing to test): their statistic says so
    (:class:`gcnc.claims.table.Claims`); inconclusive by rule, listed apart from the table."""
    return table.statistic.str.contains("too few|no runs|nothing to test", regex=True)


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
    untestable = untestable_rows(table)
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


def _short(study: str) -> str:
    """A study's name for the console: ``dataset/arch``, ``pooled`` or ``all studies``."""
    if study.startswith(("pooled", "all:")):
        return "pooled" if study.startswith("pooled") else "all studies"
    return study.replace("source classes", "source").replace(" x ", "/")


def console_summary(claims_csv: str, figures_dir: str, preset: str) -> str:
    """What `make run` prints last: each testable claim's verdict per study, the verdict counts,
    where the outputs are and how to browse them."""
    table = pd.read_csv(claims_csv)
    testable = ~untestable_rows(table)
    short = {"reproduced": "yes", "not reproduced": "NO", "inconclusive": "?"}
    lines = [
        f"Claims of the paper, preset {preset}: per study, yes = reproduced, NO = not "
        "reproduced, ? = inconclusive",
    ]
    for claim, rows in table[testable].groupby("claim", sort=False):
        name = claim if len(claim) <= 60 else claim[:57] + "..."
        verdicts = "; ".join(f"{short[r.verdict]} {_short(r.study)}" for r in rows.itertuples())
        lines.append(f"  {name:<60}  {verdicts}")
    counts = table.verdict.value_counts()
    lines += [
        f"{len(table)} rows: "
        + ", ".join(
            f"{counts.get(v, 0)} {v}" for v in ("reproduced", "not reproduced", "inconclusive")
        )
        + f" ({(~testable).sum()} not testable in this preset).",
        f"Figures, tables, claims: {figures_dir}/ (claims.md explains every row)",
        f"Runs and metrics:        results/{preset}/",
        f"Browse all of it:        make report PRESET={preset}  (writes report.html)",
    ]
    return "\n".join(lines)
