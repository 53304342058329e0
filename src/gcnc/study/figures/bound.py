"""The paper's Fig. 3: Prop. 4.3's right-hand side (the GC bound, L-term omitted) against its
left-hand side (nearest-class-mean test error) along training, one bound per estimate of the
Poincare constant c."""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from gcnc.study.constants import RITZ_DEGREE, RITZ_DIMS
from gcnc.study.figures.common import (
    band_phrase,
    caption,
    finish,
    mean_sd_line,
    plan_setting,
    readable_log,
    save,
    short_number,
    step_ticks,
)
from gcnc.study.results.records import read_table

DEGREE = {1: "linear", 2: "quadratic", 3: "cubic"}.get(RITZ_DEGREE, f"degree {RITZ_DEGREE}")
C_METHOD_LABEL = {
    "paper_nc_over_gcol": "the paper's c: max NC / GCol after initialisation",
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


def bound_findings(long: pd.DataFrame, methods: list[str], labels: dict[str, str]) -> str:
    """'Found at the last logged step (mean over seeds): test error 0.13; bound 110 with c from
    NC/GCol, ...; every bound above 1 (vacuous).'"""
    end = long[long.step == long.step.max()]
    if not len(end):
        return ""
    error = end[end.curve == LHS_CURVE].value.mean()
    bounds = {m: end[end.curve == labels[m]].value.mean() for m in methods}
    parts = [
        f"{short_number(v)} with c from {C_METHOD_LABEL.get(m, m.replace('_', ' '))}"
        for m, v in bounds.items()
    ]
    holds = [m for m, v in bounds.items() if v >= error]
    useful = [m for m, v in bounds.items() if error <= v < 1]
    verdict = (
        "every bound lies above the error"
        if len(holds) == len(bounds)
        else f"{len(holds)} of {len(bounds)} bounds lie above the error"
    )
    verdict += (
        "; none is below 1, so none says anything"
        if not useful
        else f"; {len(useful)} below 1 (informative)"
    )
    return (
        f"Found at the last logged step (mean over seeds): test error {short_number(error)}; bound "
        + ", ".join(parts)
        + f"; {verdict}"
    )


def render_bound(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> str:
    """Fig. 3 from bounds.csv: mean +- 1 sd over seeds of each curve; legend below the axes.
    Returns the caption."""
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
    fig, ax = plt.subplots(figsize=(5.5, 4.4), constrained_layout=True)
    palette = sns.color_palette("colorblind", len(methods))
    for method, colour in zip(methods, palette, strict=True):
        rows = long[long.curve == labels[method]]
        mean_sd_line(ax, rows, "step", "value", colour, labels[method])
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
    step_ticks(ax, long.step)
    ax.set_xlabel("training step")
    ax.set_ylabel("error or bound")
    readable_log(ax)
    handles, names = ax.get_legend_handles_labels()
    first = names.index(LHS_CURVE)  # the error first, then the bounds
    order = [first] + [i for i in range(len(names)) if i != first]
    fig.legend([handles[i] for i in order], [names[i] for i in order],
               loc="outside lower center", ncol=1, frameon=False)  # fmt: skip
    seeds = long.groupby("curve").seed.nunique().tolist()
    finish(fig, f"Prop. 4.3: bound and test error ({plan_setting(plan)})")
    save(fig, pdf, png, long[["run_id", "seed", "step", "curve", "c_method", "value", "c"]], csv)
    units = ("every c in the units of the network's input (standardised pixels); "
             "poincare.csv converts each to [0, 1] and 0-255 pixel units")  # fmt: skip
    return caption(plan, band_phrase(seeds), units, bound_findings(long, methods, labels))
