"""Rows of the claims report: one per (claim, study), plus pooled and across-study rows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gcnc.claims.stats import (
    MIN_LEVELS,
    MIN_RUNS,
    Stat,
    bootstrap_ci,
    direction,
    spearman,
    verdict_range,
    verdict_signed,
    verdict_threshold,
    within_group_spearman,
)

NAN3 = (float("nan"),) * 3


def finite_rows(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``columns`` are all finite numbers: a rank statistic has no
    place for a NaN (:func:`gcnc.claims.stats.average_ranks` refuses one)."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return frame[np.isfinite(values).all(axis=1)]


COLUMNS = [
    "claim",
    "study",
    "n_runs",
    "predicted",
    "direction",
    "statistic",
    "value",
    "ci_low",
    "ci_high",
    "verdict",
]


@dataclass
class Claims:
    """Collects the rows; every test is run within each study (column ``group``)."""

    n_boot: int
    seed: int
    rows: list[dict[str, Any]] = field(default_factory=list)

    def _row(self, claim: str, study: str, frame: pd.DataFrame, **cells: Any) -> None:
        n = frame["run_id"].nunique() if "run_id" in frame else len(frame)
        self.rows.append({"claim": claim, "study": study, "n_runs": n, **cells})

    def _missing(self, claim: str, predicted: str, why: str) -> None:
        self.rows.append(
            dict.fromkeys(COLUMNS, float("nan"))
            | {"claim": claim, "study": "-", "n_runs": 0, "predicted": predicted}
            | {"direction": "none", "statistic": why, "verdict": "inconclusive"}
        )

    def signed(
        self, claim: str, frame: pd.DataFrame, x: str, y: str, sign: int, stat: Stat | None = None
    ) -> None:
        """``y`` falls (sign -1) or rises (+1) with ``x``: Spearman within each study, and a
        within-study-ranks pooled row where two or more studies have enough runs. With ``stat``
        (a statistic of per-run values in ``y``, e.g. a mean of per-run trends) ``x`` only
        names what the runs vary in."""
        predicted = "positive" if sign > 0 else "negative"
        if frame.empty:
            return self._missing(claim, predicted, f"no runs bear on it ({x}, {y})")
        label = f"Spearman({x}, {y})" if stat is None else f"mean per-run {y}"
        usable = []
        for group, everything in frame.groupby("group", sort=True):
            g = finite_rows(everything, [y] if stat is not None else [x, y])
            left_out = len(everything) - len(g)
            note = f"; {left_out} non-finite left out" if left_out else ""
            enough = len(g) >= MIN_RUNS and (stat is not None or g[x].nunique() >= MIN_LEVELS)
            value, lo, hi = (
                bootstrap_ci(g, stat or spearman(x, y), self.n_boot, self.seed) if enough else NAN3
            )
            usable += [g] if enough else []
            self._row(
                claim,
                group,
                g,
                predicted=predicted,
                direction=direction(value, sign),
                statistic=(label if enough else f"{label}: too few runs or values") + note,
                value=value,
                ci_low=lo,
                ci_high=hi,
                verdict=verdict_signed(lo, hi, sign),
            )
        if len(usable) >= 2 and stat is None:
            pooled = pd.concat(usable)
            value, lo, hi = bootstrap_ci(
                pooled, within_group_spearman(x, y), self.n_boot, self.seed, strata="group"
            )
            self._row(
                claim,
                f"pooled: {len(usable)} studies, ranks within each",
                pooled,
                predicted=predicted,
                direction=direction(value, sign),
                statistic=f"within-study Spearman({x}, {y})",
                value=value,
                ci_low=lo,
                ci_high=hi,
                verdict=verdict_signed(lo, hi, sign),
            )

    def threshold(
        self,
        claim: str,
        frame: pd.DataFrame,
        stat: Stat,
        label: str,
        bounds: tuple[float, float],
        min_runs: int = MIN_RUNS,
    ) -> None:
        """The statistic lies in ``bounds`` (use -inf/inf for a one-sided threshold), per study;
        inconclusive in a study with fewer than ``min_runs`` runs."""
        low, high = bounds
        predicted = f"in [{low:g}, {high:g}]"
        if high == np.inf or low == -np.inf:
            predicted = f">= {low:g}" if high == np.inf else f"<= {high:g}"
        if frame.empty:
            return self._missing(claim, predicted, f"nothing to test ({label})")
        for group, g in frame.groupby("group", sort=True):
            enough = (g["run_id"].nunique() if "run_id" in g else len(g)) >= min_runs
            value, lo, hi = bootstrap_ci(g, stat, self.n_boot, self.seed) if enough else NAN3
            inside = low <= value <= high if np.isfinite(value) else None
            if high == np.inf:
                verdict = verdict_threshold(lo, hi, low, above=True)
            elif low == -np.inf:
                verdict = verdict_threshold(lo, hi, high, above=False)
            else:
                verdict = verdict_range(lo, hi, low, high)
            self._row(
                claim,
                group,
                g,
                predicted=predicted,
                direction={None: "none", True: "as predicted", False: "opposite"}[inside],
                statistic=label if enough else f"{label}: too few runs",
                value=value,
                ci_low=lo,
                ci_high=hi,
                verdict=verdict,
            )

    def across_studies(self, claim: str, about: list[str]) -> None:
        """Whether the claims ``about`` hold in every study that tested them."""
        per_study = [
            r
            for r in self.rows
            if r["claim"] in about
            and r["study"] != "-"
            and not r["study"].startswith("pooled")
            and "too few" not in r["statistic"]
        ]
        studies = sorted({r["study"] for r in per_study})
        ok = [r["verdict"] == "reproduced" for r in per_study]
        failed = any(r["verdict"] == "not reproduced" for r in per_study)
        verdict = "inconclusive"
        if len(studies) >= 2 and all(ok):
            verdict = "reproduced"
        elif failed:
            verdict = "not reproduced"
        self.rows.append(
            {
                "claim": claim,
                "study": f"all: {', '.join(studies) or 'none'}",
                "n_runs": float("nan"),
                "predicted": "every (claim, study) reproduced, >= 2 studies",
                "direction": "opposite" if failed else "as predicted" if ok and all(ok) else "none",
                "statistic": f"(claim, study) pairs reproduced, of {len(ok)}",
                "value": float(sum(ok)),
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "verdict": verdict,
            }
        )

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=COLUMNS)
