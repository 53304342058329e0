"""Li et al.'s fine-tuning claims (shared/li_et_al_reference.md Sec. 4), tested per study on
finetune.csv (:mod:`gcnc.finetune`), and the bridge to our paper (source GC -> target NC1).

- C1: higher source NC1 gives higher transfer (linear-probe) accuracy up to a threshold: the
  Spearman correlation, and where a quadratic fit in log10 source NC1 peaks;
- C4: lower target NC1 of the frozen features gives higher linear-probe accuracy;
- C8: within a model, lower target NC1 gives higher accuracy across modes and units;
- C7 / Table 2: layer FT beats the linear probe; SCL FT at or above layer FT and close to full
  FT with far fewer trainable parameters (best unit of each mode, as Table 2);
- bridge: lower source GC gives lower target NC1 after each mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gcnc.claims.stats import Columns, spearman
from gcnc.claims.table import Claims
from gcnc.plan import with_group

TRAINED = ("linear_probe", "layer_ft", "scl_ft", "full_ft")
LAYER_TOLERANCE = 0.01  # "SCL at or above layer FT": mean best-unit gap >= -1 point
FULL_TOLERANCE = 0.02  # "close to full FT": mean gap >= -2 points
PARAM_SHARE = 0.5  # "far fewer trainable parameters": at most half of full FT's


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


def _per_run_trend(rows: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """Per run: Spearman(x, y) over its (mode, unit) rows (at least 3 distinct x values)."""
    out = []
    for run_id, g in rows.groupby("run_id"):
        if g[x].nunique() >= 3 and g[y].nunique() >= 2:
            rho = spearman(x, y)({x: g[x].to_numpy(), y: g[y].to_numpy()})
            out.append({"run_id": run_id, "group": g.group.iloc[0], "trend": rho})
    return pd.DataFrame(out, columns=["run_id", "group", "trend"])


def _mean(col: str):
    return lambda d: float(np.mean(d[col]))


def finetune_claims(
    c: Claims, finetune: pd.DataFrame, plan: pd.DataFrame, ok: set[str] | None = None
) -> None:
    """Every row above, within each study (dataset x arch x task), from finetune.csv; only runs
    whose status is ok (and in ``ok`` when given)."""
    ft = finetune[finetune.status == "ok"]
    ft = ft[ft.run_id.isin(ok)] if ok is not None else ft
    ft = with_group(ft, plan)
    best = ft[ft["best"].astype(bool) & ft["mode"].isin(TRAINED)]
    lp = best[best["mode"] == "linear_probe"]
    c.signed(
        "higher source NC1 gives higher linear-probe accuracy (Li et al. C1)",
        lp,
        "source_nc1",
        "accuracy",
        +1,
    )
    turn_claim = "linear-probe accuracy turns (peaks) inside the source-NC1 range (Li et al. C1)"
    for _, g in lp.groupby("group", sort=True) if len(lp) else [("-", lp)]:
        columns = {k: g[k].to_numpy() for k in g}
        turn = turn_position("source_nc1", "accuracy")(columns) if len(g) else np.nan
        t = np.log10(g.source_nc1) if len(g) else pd.Series([np.nan])
        at = 10 ** (t.min() + turn * (t.max() - t.min())) if np.isfinite(turn) else np.nan
        c.threshold(
            turn_claim,
            g,
            turn_position("source_nc1", "accuracy"),
            "peak of the quadratic fit of accuracy on log10 source NC1, as a fraction of the "
            f"observed range (point estimate: source NC1 = {at:.3g}; NaN: not concave)",
            (0.0, 1.0),
        )
    c.signed(
        "lower target NC1 of frozen features gives higher linear-probe accuracy (Li et al. C4)",
        lp,
        "target_nc1",
        "accuracy",
        -1,
    )
    trends = _per_run_trend(ft[ft["mode"].isin(TRAINED)], "target_nc1", "accuracy")
    c.signed(
        "lower target NC1 gives higher accuracy across modes and units (Li et al. C8)",
        trends,
        "target_nc1",
        "trend",
        -1,
        stat=_mean("trend"),
    )
    _table2_claims(c, best)
    for mode in TRAINED:
        rows = best[best["mode"] == mode]
        c.signed(
            f"lower source GC gives lower target NC1 after {mode} (bridge: our Sec. 5)",
            rows,
            "source_gc",
            "target_nc1",
            +1,
        )


def _table2_claims(c: Claims, best: pd.DataFrame) -> None:
    """Li et al. C7 / Table 2 on the best unit of each mode, per run."""
    cols: dict[str, Any] = {"accuracy": "acc", "trainable_params": "params"}
    wide = best.pivot_table(index=["run_id", "group"], columns="mode", values=list(cols))
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
    c.threshold(
        "layer FT beats the linear probe (Li et al. C7, Table 2)",
        wide,
        _mean("layer_vs_probe"),
        "mean over runs of accuracy(layer FT, best unit) - accuracy(linear probe)",
        (0.0, np.inf),
    )
    c.threshold(
        "SCL FT is at or above layer FT (Li et al. C7, Table 2)",
        wide,
        _mean("scl_vs_layer"),
        f"mean over runs of accuracy(SCL FT) - accuracy(layer FT), best units; at or above: "
        f">= -{LAYER_TOLERANCE:g}",
        (-LAYER_TOLERANCE, np.inf),
    )
    c.threshold(
        "SCL FT is close to full FT (Li et al. C7, Table 2)",
        wide,
        _mean("scl_vs_full"),
        f"mean over runs of accuracy(SCL FT, best unit) - accuracy(full FT); close: "
        f">= -{FULL_TOLERANCE:g}",
        (-FULL_TOLERANCE, np.inf),
    )
    c.threshold(
        "SCL FT trains far fewer parameters than full FT",
        wide,
        _mean("param_share"),
        "mean over runs of trainable parameters(SCL FT, best unit) / trainable parameters(full "
        f"FT); far fewer: <= {PARAM_SHARE:g}",
        (-np.inf, PARAM_SHARE),
    )
