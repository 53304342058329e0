"""The claims report: each claim of the paper tested within each study, with a bootstrap CI, the
observed direction and a verdict (:mod:`gcnc.claims.stats` states the verdict rule)."""

from gcnc.claims.paper import claims_table
from gcnc.claims.report import claims_markdown, claims_report, md_cell
from gcnc.claims.stats import bootstrap_ci, verdict_range, verdict_signed, verdict_threshold

__all__ = [
    "bootstrap_ci",
    "claims_markdown",
    "claims_report",
    "claims_table",
    "md_cell",
    "verdict_range",
    "verdict_signed",
    "verdict_threshold",
]
