"""Li et al.'s fine-tuning claims (an extension of ours: Li et al., "What deep representations
should we learn? A neural collapse perspective", Sec. 4), tested per comparison group on
finetune.csv (:mod:`gcnc.study.transfer.finetune`), and the bridge to our paper (source GC ->
target NC1).

- C1: higher source NC1 gives higher transfer (linear-probe) accuracy up to a threshold: Kendall's
  test, and where a quadratic fit in log10 source NC1 peaks (a bootstrap interval, no test);
- C4: lower target NC1 of the frozen features gives higher linear-probe accuracy;
- C8: within a model, lower target NC1 gives higher accuracy across modes and units (Kendall's S
  within each run);
- C7 / Table 2: layer FT beats the linear probe; SCL FT at or above layer FT and close to full FT
  (sign-flip tests of the mean gap over runs, best unit of each mode, as Table 2); SCL FT trains
  far fewer parameters than full FT (a count, compared: no test);
- bridge: lower source GC gives lower target NC1 after each mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gcnc.study.claims.catalogue import Claim
from gcnc.study.claims.effects import link, with_plan
from gcnc.study.claims.stats import Columns
from gcnc.study.claims.table import Claims

TRAINED = ("linear_probe", "layer_ft", "scl_ft", "full_ft")
LAYER_TOLERANCE = 0.01  # "SCL at or above layer FT": mean best-unit gap >= -1 point
FULL_TOLERANCE = 0.02  # "close to full FT": mean gap >= -2 points
PARAM_SHARE = 0.5  # "far fewer trainable parameters": at most half of full FT's
C1 = Claim(
    "higher source NC1 gives higher linear-probe accuracy (Li et al. C1)",
    "Li et al. Sec. 3.1, Fig. 1",
    origin="extension",
)
C1_TURN = Claim(
    "linear-probe accuracy turns (peaks) inside the source-NC1 range (Li et al. C1)",
    "Li et al. Sec. 3.1",
    origin="extension",
)
C4 = Claim(
    "lower target NC1 of frozen features gives higher linear-probe accuracy (Li et al. C4)",
    "Li et al. Sec. 3.2",
    origin="extension",
)
C8 = Claim(
    "lower target NC1 gives higher accuracy across modes and units (Li et al. C8)",
    "Li et al. Sec. 4",
    origin="extension",
)
LAYER = Claim(
    "layer FT beats the linear probe (Li et al. C7, Table 2)",
    "Li et al. Table 2",
    origin="extension",
)
SCL_LAYER = Claim(
    "SCL FT is at or above layer FT (Li et al. C7, Table 2)",
    "Li et al. Table 2",
    origin="extension",
)
SCL_FULL = Claim(
    "SCL FT is close to full FT (Li et al. C7, Table 2)",
    "Li et al. Table 2",
    origin="extension",
)
PARAMS = Claim(
    "SCL FT trains far fewer parameters than full FT",
    "Li et al. Table 2",
    origin="extension",
)


def turn_position(x: str, y: str):
    """Statistic: where the quadratic least-squares fit of ``y`` on log10 ``x`` peaks, as a
    fraction of the observed log10 range (0 = lowest, 1 = highest ``x``); NaN when the fit is
    not concave (no maximum) or ``x`` is constant."""

    def stat(d: Columns) -> float:
        t = np.log10(np.asarray(d[x], dtype=float))
        lo, hi = t.min(), t.max()
        if not np.isfinite([lo, hi]).all() or hi <= lo:
            return float("nan")
        c2, c1, _ = np.polyfit((t - lo) / (hi - lo), np.asarray(d[y], dtype=float), 2)
        return float(-c1 / (2 * c2)) if c2 < 0 else float("nan")

    return stat


def finetune_claims(
    c: Claims, finetune: pd.DataFrame, plan: pd.DataFrame, ok: set[str] | None = None
) -> None:
    """Every row above, within each study (dataset x arch x task), from finetune.csv; only runs
    whose status is ok (and in ``ok`` when given)."""
    ft = finetune[finetune.status == "ok"]
    ft = ft[ft.run_id.isin(ok)] if ok is not None else ft
    ft = with_plan(ft, plan)
    best = ft[ft["best"].astype(bool) & ft["mode"].isin(TRAINED)]
    lp = best[best["mode"] == "linear_probe"]
    link(c, C1, lp, "source_nc1", "accuracy", +1)
    for _, g in lp.groupby("group", sort=True):
        turn = turn_position("source_nc1", "accuracy")({k: g[k].to_numpy() for k in g})
        t = np.log10(g.source_nc1)
        at = 10 ** (t.min() + turn * (t.max() - t.min())) if np.isfinite(turn) else np.nan
        label = (
            "peak of the quadratic fit of accuracy on log10 source NC1, as a fraction of the "
            f"observed range (point estimate: source NC1 = {at:.3g}; NaN: not concave)"
        )
        c.estimate(C1_TURN, g, turn_position("source_nc1", "accuracy"), (0.0, 1.0), label)
    link(c, C4, lp, "target_nc1", "accuracy", -1)
    label = "Kendall tau-b(target NC1, accuracy) over each run's modes and units, mean per seed"
    c.within_runs(C8, ft[ft["mode"].isin(TRAINED)], "target_nc1", "accuracy", -1, label)
    _table2_claims(c, best)
    for mode in TRAINED:
        claim = Claim(
            f"lower source GC gives lower target NC1 after {mode} (bridge to the paper's Sec. 5)",
            "ours", origin="extension",
        )  # fmt: skip
        rows = best[best["mode"] == mode]
        link(c, claim, rows, "source_gc", "target_nc1", +1)


def _table2_claims(c: Claims, best: pd.DataFrame) -> None:
    """Li et al. C7 / Table 2 on the best unit of each mode, per run."""
    cols: dict[str, Any] = {"accuracy": "acc", "trainable_params": "params"}
    wide = best.pivot_table(index=["run_id", "group", "seed"], columns="mode", values=list(cols))
    wide.columns = [f"{cols[v]}_{m}" for v, m in wide.columns]
    wide = wide.reset_index()
    for col in [f"acc_{m}" for m in TRAINED] + ["params_scl_ft", "params_full_ft"]:
        if col not in wide:
            wide[col] = np.nan
    wide = wide.assign(
        layer_vs_probe=wide.acc_layer_ft - wide.acc_linear_probe,
        scl_vs_layer=wide.acc_scl_ft - wide.acc_layer_ft,
        scl_vs_full=wide.acc_scl_ft - wide.acc_full_ft,
        param_share=wide.params_scl_ft / wide.params_full_ft,
    ).dropna(subset=["layer_vs_probe", "scl_vs_layer", "scl_vs_full"])
    label = "mean over runs of accuracy(layer FT, best unit) - accuracy(linear probe)"
    c.mean_against(LAYER, wide, "layer_vs_probe", 0.0, +1, label)
    label = "mean over runs of accuracy(SCL FT) - accuracy(layer FT), best units"
    c.mean_against(SCL_LAYER, wide, "scl_vs_layer", -LAYER_TOLERANCE, +1, label)
    label = "mean over runs of accuracy(SCL FT, best unit) - accuracy(full FT)"
    c.mean_against(SCL_FULL, wide, "scl_vs_full", -FULL_TOLERANCE, +1, label)
    for group, g in wide.groupby("group"):  # a parameter count: compared, not tested
        share = float(g.param_share.mean())
        label = "mean over runs of trainable parameters(SCL FT) / trainable parameters(full FT)"
        verdict = "reproduced" if share <= PARAM_SHARE else "not reproduced"
        note = "a count of parameters, the same in every run of an architecture: no test"
        c.comparison(PARAMS, group, g, share, verdict, f"<= {PARAM_SHARE:g}", label, note)
