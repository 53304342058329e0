"""Li et al.'s fine-tuning study on one transfer study's runs (docs/paper.md section 9; their
Sec. 3-4): accuracy and target NC1 per transfer mode and unit (Table 2, Tables 3-5, Fig. 11),
source NC1 against transfer accuracy (C1), target NC1 against accuracy (C4, C8)."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from gcnc.study.figures.common import (
    FULL_WIDTH,
    caption,
    finish,
    plan_setting,
    readable_log,
    save,
    seeds_phrase,
)
from gcnc.study.results.records import read_table

MODE_STYLE = {  # one colour per mode (colour-blind safe Okabe-Ito hues)
    "linear_probe": ("#0072B2", "linear probe"),
    "layer_ft": ("#E69F00", "layer FT"),
    "scl_ft": ("#009E73", "SCL FT"),
    "full_ft": ("#CC79A7", "full FT"),
    "fewshot_ncm": ("0.55", "few-shot\nNCM"),
    "fewshot_logreg": ("0.2", "few-shot\nlogreg"),
}
KEEP = [
    "run_id",
    "seed",
    "mode",
    "unit",
    "best",
    "trainable_params",
    "accuracy",
    "target_nc1",
    "target_cdnv",
    "stable_rank",
    "source_nc1",
    "source_gc",
]


def _categories(data: pd.DataFrame) -> list[tuple[str, str]]:
    """(mode, unit) in the order of MODE_STYLE, units in forward order."""
    seen = data.drop_duplicates(["mode", "unit"])
    out = []
    for mode in MODE_STYLE:
        units = seen.loc[seen["mode"] == mode, "unit"].tolist()
        out += [(mode, u) for u in sorted(units, key=_unit_order)]
    return out


def _unit_order(unit: str) -> int:
    digits = "".join(ch for ch in str(unit) if ch.isdigit())
    return int(digits) if digits else 0


def _label(mode: str, unit: str) -> str:
    return MODE_STYLE[mode][1] + ("" if unit == "-" else f"\n{unit}")


def _strip(ax: plt.Axes, data: pd.DataFrame, cats: list[tuple[str, str]], col: str) -> None:
    """Each run as a dot, the mean over runs as a bar, per (mode, unit)."""
    rng = np.random.default_rng(0)
    for i, (mode, unit) in enumerate(cats):
        vals = data.loc[(data["mode"] == mode) & (data["unit"] == unit), col].dropna()
        colour = MODE_STYLE[mode][0]
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(vals)), vals, s=9, color=colour, alpha=0.6)
        if len(vals):
            ax.hlines(vals.mean(), i - 0.3, i + 0.3, color=colour, lw=2)
    ax.set_xticks(range(len(cats)), [_label(m, u) for m, u in cats], fontsize=7)
    ax.set_xlim(-0.6, len(cats) - 0.4)


def _scatter(ax: plt.Axes, data: pd.DataFrame, x: str, modes: list[str]) -> None:
    for mode in modes:
        sub = data[data["mode"] == mode]
        colour, label = MODE_STYLE[mode]
        ax.scatter(sub[x], sub["accuracy"], s=14, color=colour, label=label, alpha=0.8)
    ax.set_xscale("log")
    ax.set_ylabel("target test accuracy")


def _spearman(x: pd.Series, y: pd.Series) -> float:
    """Spearman's rank correlation (NaN with fewer than three pairs)."""
    ok = x.notna() & y.notna()
    if ok.sum() < 3:
        return float("nan")
    return float(np.corrcoef(x[ok].rank(), y[ok].rank())[0, 1])


def finetune_findings(data: pd.DataFrame, best: pd.DataFrame, every: pd.DataFrame) -> str:
    """'Found: highest mean accuracy full FT (0.92), ... lowest linear probe (0.81); Spearman
    rank correlation of accuracy with target NC1 -0.8 (every mode and unit), with source NC1
    0.1 (best unit per mode).'"""
    if not len(data):
        return ""
    means = data.groupby(["mode", "unit"]).accuracy.mean().sort_values(ascending=False)
    named = [f"{_label(m, u).replace(chr(10), ' ')} ({means[(m, u)]:.2f})" for m, u in means.index]
    text = "Found: mean target accuracy, highest first: " + ", ".join(named)
    rho_target = _spearman(every.target_nc1, every.accuracy)
    rho_source = _spearman(best.source_nc1, best.accuracy)
    rhos = []
    if np.isfinite(rho_target):
        rhos.append(f"{rho_target:+.2f} with target NC1 (every mode and unit)")
    if np.isfinite(rho_source):
        rhos.append(f"{rho_source:+.2f} with source NC1 (best unit per mode)")
    if rhos:
        text += "; Spearman rank correlation of accuracy " + " and ".join(rhos)
    return text


def render_finetune(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> str:
    """Four panels from finetune.csv, the study's ok runs: accuracy and target NC1 per mode and
    unit (each across the figure's width); source NC1 vs accuracy (best unit per mode); target
    NC1 vs accuracy (every row). Returns the caption."""
    table = read_table(inputs[0])
    ids = {r["run_id"] for r in plan["runs"]}
    data = table[table.run_id.isin(ids) & (table.status == "ok")].copy()
    data["unit"] = data["unit"].fillna("-").astype(str)
    data["best"] = data["best"].astype(bool)
    cats = _categories(data)
    trained = [c for c in cats if not c[0].startswith("fewshot")]
    fig, axes = plt.subplot_mosaic(
        [["accuracy", "accuracy"], ["target", "target"], ["source_vs", "target_vs"]],
        figsize=(FULL_WIDTH, 7.4),
        constrained_layout=True,
    )
    _strip(axes["accuracy"], data, cats, "accuracy")
    axes["accuracy"].set_ylabel("target test accuracy")
    axes["accuracy"].set_title("accuracy per mode and unit (Li et al. Tables 2-5)")
    _strip(axes["target"], data, trained, "target_nc1")
    axes["target"].set_yscale("log")
    axes["target"].set_ylabel("target NC1 (training set)")
    axes["target"].set_title("target NC1 after transfer (Li et al. Fig. 11)")
    best = data[data["best"] & data["mode"].isin([m for m, _ in trained])]
    modes = [m for m in MODE_STYLE if m in set(best["mode"])]
    _scatter(axes["source_vs"], best, "source_nc1", modes)
    axes["source_vs"].set_xlabel("source NC1 (pretraining, training set)")
    axes["source_vs"].set_title("source NC1 vs accuracy, best unit (C1)")
    every = data[data["mode"].isin(modes)]
    _scatter(axes["target_vs"], every, "target_nc1", modes)
    axes["target_vs"].set_xlabel("target NC1 (training set)")
    axes["target_vs"].set_title("target NC1 vs accuracy, every unit (C4, C8)")
    if len(data):
        readable_log(axes["target"], "y")
        readable_log(axes["source_vs"], "x")
        readable_log(axes["target_vs"], "x")
    handles, labels = axes["target_vs"].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    runs = data.drop_duplicates("run_id")
    shots = data["shot"].dropna() if "shot" in data else pd.Series([], dtype=float)
    shot = int(shots.max()) if len(shots) else None
    tuned = data["finetune_steps"].dropna() if "finetune_steps" in data else pd.Series([])
    steps = sorted(tuned[tuned > 0].astype(int).unique())
    finish(fig, f"Li et al.'s transfer modes, target and source NC1 ({plan_setting(plan)})")
    save(fig, pdf, png, data[[c for c in KEEP if c in data]], csv)
    return caption(
        plan,
        f"{len(runs)} source runs ({seeds_phrase([runs.seed.nunique()])})"
        + (f", tuned for {steps[-1]:,} SGD steps" if steps else ""),
        "Dots: runs; bars: mean over runs; linear probe fitted to convergence"
        + (f"; few-shot: {shot}-shot episodes on frozen features" if shot else ""),
        finetune_findings(data, best, every),
    )
