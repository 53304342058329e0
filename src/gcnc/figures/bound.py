"""The paper's Fig. 3: Prop. 4.3's right-hand side (the GC bound, L-term omitted) against its
left-hand side (nearest-class-mean test error) along training, one bound per estimate of the
Poincare constant c."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from gcnc.constants import RITZ_DEGREE, RITZ_DIMS
from gcnc.figures.common import (
    band_phrase,
    finish,
    mean_sd_line,
    readable_log,
    save,
    setting_phrase,
)
from gcnc.records import read_table

DEGREE = {1: "linear", 2: "quadratic", 3: "cubic"}.get(RITZ_DEGREE, f"degree {RITZ_DEGREE}")
C_METHOD_LABEL = {
    "paper_nc_over_gcol": "NC/GCol (paper's method)",
    "linear_test_functions": "linear test functions (95% lower bound)",
    "network_test_functions": "network test functions (sample ratio)",
    "ritz_polynomial": f"Ritz, restricted ({DEGREE}, top-{RITZ_DIMS} PCs)",
    "true": "true constant",
}
LHS_CURVE = "LHS: nearest-class-mean test error"


def c_method_label(method: str, c: pd.Series) -> str:
    """Readable name of a c estimate with its value(s): 'Ritz (cubic, top-4 PCs), c = 207'."""
    name = C_METHOD_LABEL.get(method, method.replace("_", " "))
    lo, hi = c.min(), c.max()
    value = f"{lo:.3g}" if lo == hi else f"{lo:.3g}-{hi:.3g}"
    return f"RHS, c from {name}: c = {value}"


def render_bound(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> None:
    """Fig. 3 from bounds.csv: mean +- 1 sd over seeds of each curve; legend below the axes."""
    ids = {r["run_id"] for r in plan["runs"]}
    data = read_table(inputs[0])
    data = data[(data.bound == "prop4.3") & data.run_id.isin(ids)]
    methods = sorted(data.c_method.unique(), key=lambda m: -data[data.c_method == m].c.median())
    labels = {m: c_method_label(m, data[data.c_method == m].c) for m in methods}
    long = pd.concat(
        [
            data.assign(curve=data.c_method.map(labels), value=data.rhs),
            data[data.c_method == methods[0]].assign(
                curve=LHS_CURVE, value=lambda d: d.lhs, c_method="", c=float("nan")
            ),
        ]
    )
    fig, ax = plt.subplots(figsize=(6.2, 4.6), constrained_layout=True)
    palette = sns.color_palette("colorblind", len(methods))
    for method, colour in zip(methods, palette, strict=True):
        rows = long[long.curve == labels[method]]
        mean_sd_line(ax, rows, "step", "value", colour, labels[method], marker="o", ms=3)
    mean_sd_line(ax, long[long.curve == LHS_CURVE], "step", "value", "k", LHS_CURVE, lw=2)
    ax.axhline(1.0, color="grey", lw=1, ls="--", label="bound = 1 (vacuous above)")
    ax.text(
        ax.get_xlim()[1],
        1.0,
        "bound = 1 (vacuous above) ",
        ha="right",
        va="bottom",
        fontsize=7,
        color="dimgrey",
    )
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("test error (LHS) / bound (RHS)")
    readable_log(ax)
    fig.legend(loc="outside lower center", ncol=2, fontsize=7, frameon=False)
    seeds = long.groupby("curve").seed.nunique().tolist()
    finish(
        fig,
        f"{plan['paper']}: Prop. 4.3 bound vs nearest-class-mean test error",
        [
            setting_phrase(plan),
            band_phrase(seeds),
            "L-term omitted",
        ],
    )
    save(fig, pdf, png, long[["run_id", "seed", "step", "curve", "c_method", "value", "c"]], csv)
