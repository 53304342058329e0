"""Drawing conventions shared by every paper figure (Figs. 1-4 and App. A.5).

- Colours of a hyper-parameter sweep follow the regularisation *strength* (the paper's direction:
  larger learning rate, smaller batch, larger L2, larger GC penalty), light = weak, dark = strong,
  on one sequential map, so a colour means the same in every row and every figure.
- Every figure carries a subtitle saying what was run (dataset, architecture, training steps,
  seeds) and what its bands or bars are.
- Log axes spanning less than a decade get a few plain tick labels instead of 2x10^0 minors.
- PDFs embed TrueType (Type 42) fonts, PNGs are written at 300 dpi, and a CSV holds exactly the
  plotted data (integer batch sizes).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FuncFormatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

RC = {"pdf.fonttype": 42, "ps.fonttype": 42}  # TrueType in PDF/PS: editable, journal-safe
PNG_DPI = 300
KNOB_LABEL = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "L2 (weight decay)",
    "gc_reg": "GC regularisation",
}
KNOB_DIRECTION = {
    "lr": "increased learning rate",
    "batch_size": "decreased batch size",
    "weight_decay": "increased L2",
    "gc_reg": "increased GC regularisation",
}
STRONGER_WHEN_LARGER = {"lr": True, "batch_size": False, "weight_decay": True, "gc_reg": True}
STRENGTH_CMAP = "viridis"
STRENGTH_SPAN = (0.82, 0.08)  # colormap positions of the weakest and the strongest value
STRENGTH_NOTE = "colour: light = weak, dark = strong regularisation"
METRIC_LABEL = {
    "gc": "embedding GC",
    "geometric_collapse": "geometric collapse (Eq. 7)",
    "nc": "neural collapse (avg CDNV)",
    "accuracy": "test accuracy",
}


def by_strength(knob: str, values: Iterable[Any]) -> list[Any]:
    """Distinct values of a sweep knob, weakest regularisation first."""
    return sorted(set(values), reverse=not STRONGER_WHEN_LARGER[knob])


def strength_colours(knob: str, values: Iterable[Any]) -> dict[Any, tuple[float, ...]]:
    """Value -> RGBA on the sequential strength map: the weakest value lightest, the strongest
    darkest, the same positions for every knob with as many values."""
    order = by_strength(knob, values)
    cmap = plt.get_cmap(STRENGTH_CMAP)
    spots = np.linspace(*STRENGTH_SPAN, len(order)) if len(order) > 1 else [np.mean(STRENGTH_SPAN)]
    return {v: cmap(float(s)) for v, s in zip(order, spots, strict=True)}


def value_label(knob: str, value: Any) -> str:
    """A knob value as printed: batch sizes as integers, other values in %g form."""
    return str(int(value)) if knob == "batch_size" else f"{float(value):g}"


def knob_rows(plan: dict[str, Any], table: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` (with run_id) tagged by the sweep row (``knob``) and the ``value`` they
    belong to: the base point and the runs that change only that knob. Batch sizes are integers
    (object column, so that a CSV prints 16, not 16.0)."""
    parts = []
    for knob in plan["knobs"]:  # the sweep rows of the run plan (gcnc.plan): decided there once
        ids = [r["run_id"] for r in plan["sweep"] if r["knob"] == knob]
        sub = table[table.run_id.isin(ids)].copy()
        sub["knob"] = knob
        cast = int if knob == "batch_size" else float
        sub["value"] = pd.Series([cast(v) for v in sub[knob]], index=sub.index, dtype=object)
        parts.append(sub)
    if not parts:
        return table.iloc[:0].assign(knob=[], value=[])
    data = pd.concat(parts, ignore_index=True)
    if "batch_size" in data:
        data["batch_size"] = data["batch_size"].astype(int)
    return data


def ok_rows(metrics: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Rows of runs that trained to the end (status ok in runs.csv)."""
    return metrics[metrics.run_id.isin(set(runs.loc[runs.status == "ok", "run_id"]))]


def _count(counts: Sequence[int], noun: str) -> str:
    lo, hi = min(counts), max(counts)
    return f"{lo} {noun}" + ("" if hi == 1 else "s") if lo == hi else f"{lo}-{hi} {noun}s"


def seeds_phrase(seeds_per_curve: Sequence[int]) -> str:
    """'2 seeds' (or '1-2 seeds' when some runs are missing) from the seeds behind each curve."""
    return _count(list(seeds_per_curve) or [0], "seed")


def band_phrase(seeds_per_curve: Sequence[int], what: str = "bands") -> str:
    """What a band or bar means: '+-1 sd over 2 seeds', or that a single seed has none."""
    counts = list(seeds_per_curve) or [0]
    if max(counts) < 2:
        return f"single seed, no {what}"
    return f"{what}: \u00b11 sd over {seeds_phrase(counts)}"


def setting_phrase(plan: dict[str, Any]) -> str:
    """'<dataset>, <arch>, <steps> training steps' of a planned figure's runs."""
    steps = sorted({int(r["steps"]) for r in plan["runs"]})
    span = str(steps[0]) if len(steps) == 1 else f"{steps[0]}-{steps[-1]}"
    return f"{plan['dataset']}, {plan['arch']}, {span} training steps"


def finish(fig: Figure, title: str, parts: Sequence[str]) -> None:
    """Title and subtitle (what was run, what the bands are) above the figure, wrapped to its
    width."""
    width = max(40, int(fig.get_figwidth() * 15))
    subtitle = textwrap.fill("; ".join(p for p in parts if p), width)
    fig.suptitle(f"{title}\n{subtitle}", fontsize=8.5, linespacing=1.4)


def _plain(value: float, _pos: int | None = None) -> str:
    return f"{value:g}" if value > 0 else ""


def readable_log(ax: Axes, which: str = "y") -> None:
    """Log-axis ticks a reader can take in at a glance, from the axis's current limits.

    Under one decade: about four plain ticks (0.45, 0.5, ...), no minor labels; up to three
    decades on a y axis (two on an x axis, where labels run side by side): 1-2-5 ticks; beyond:
    one tick per decade. Labels are plain numbers (0.01, 20, 300), or all powers of ten
    (10^-4 ... 10^6) when a wide axis reaches beyond 10^4 or below 10^-3. Call after the limits
    are final (after all plotting).
    """
    axis = ax.yaxis if which == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    ratio = hi / lo if lo > 0 else np.inf
    if ratio < 10:
        axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10], min_n_ticks=3))
        axis.set_minor_locator(NullLocator())
    elif ratio < (1000 if which == "y" else 100):
        axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.set_minor_locator(LogLocator(subs="auto"))
    else:
        axis.set_major_locator(LogLocator())
        axis.set_minor_locator(LogLocator(subs="auto"))
    powers = ratio >= 1000 and (hi > 1e4 or lo < 1e-3)
    axis.set_major_formatter(LogFormatterSciNotation() if powers else FuncFormatter(_plain))
    axis.set_minor_formatter(NullFormatter())


def mean_sd_line(
    ax: Axes, data: pd.DataFrame, x: str, y: str, colour: Any, label: str, **line: Any
) -> None:
    """Mean of ``y`` over the rows at each ``x`` (seeds, trials) with a +-1 sd band where there
    are at least two rows."""
    g = data.groupby(x)[y].agg(["mean", "std", "size"]).sort_index()
    ax.plot(g.index, g["mean"], color=colour, label=label, **line)
    band = g[g["size"] > 1]
    if len(band):
        lo, hi = band["mean"] - band["std"], band["mean"] + band["std"]
        ax.fill_between(band.index, lo, hi, color=colour, alpha=0.2, lw=0)


def label_row(ax: Axes, knob: str) -> None:
    """Name a figure row by the direction of its sweep, left of its first panel."""
    ax.annotate(
        KNOB_DIRECTION[knob],
        xy=(-0.42, 0.5),
        xycoords="axes fraction",
        rotation=90,
        va="center",
        ha="center",
        fontsize=9,
    )


def save(fig: Figure, pdf: str, png: str, data: pd.DataFrame, csv: str) -> None:
    """PDF (Type 42 fonts) and 300-dpi PNG of ``fig``, and the plotted data as CSV."""
    with plt.rc_context(RC):
        fig.savefig(pdf, bbox_inches="tight")
        fig.savefig(png, bbox_inches="tight", dpi=PNG_DPI)
    plt.close(fig)
    data.to_csv(csv, index=False)
