"""The claims report: each claim of the paper tested within each comparison group, as an exact
small-sample test with a Holm-adjusted p-value, an effect size with its interval over seeds and a
verdict (:mod:`gcnc.claims.stats` states the rule)."""

from gcnc.claims.paper import claims_table
from gcnc.claims.report import claims_markdown, claims_report, md_cell

__all__ = ["claims_markdown", "claims_report", "claims_table", "md_cell"]
