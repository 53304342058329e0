"""Drawing conventions shared by every paper figure (Figs. 1-4 and App. A.5).

- Sized for a paper: at most 6.75 in wide (two columns of a two-column paper, or the text width
  of a one-column one), every text at least 7 pt at that size; :func:`save` refuses a figure
  that breaks either (:func:`check_size_and_fonts`), and writes it at its own size (no tight
  bounding box that would change it).
- Names a reader knows (:mod:`gcnc.study.figures.names`): "Fashion-MNIST", "VGG, width 8". A short
  title names the setting; what ran (budget, seeds, schedule, estimator) and what the data show
  go in the caption each renderer returns (:func:`caption`).
- Colours of a hyper-parameter sweep follow the regularisation *strength* (the paper's direction:
  larger learning rate, smaller batch, larger L2, larger GC penalty), light = weak, dark = strong,
  on one sequential map, so a colour means the same in every row and every figure.
- Curves along training start at the first log after initialisation (:func:`after_init`): GC at
  step 0 is orders of magnitude below the rest and would stretch a log axis over decades.
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
from matplotlib.text import Text  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FuncFormatter,
    LogFormatterSciNotation,
    LogLocator,
    MaxNLocator,
    NullFormatter,
    NullLocator,
)

from gcnc.study.figures.names import setting_name  # noqa: E402

RC = {"pdf.fonttype": 42, "ps.fonttype": 42}  # TrueType in PDF/PS: editable, journal-safe
PNG_DPI = 300
MAX_WIDTH_IN = 6.75  # a two-column paper's full width; a one-column paper's text width or less
MIN_FONT_PT = 7.0  # the smallest text at final size (figures are never scaled down)
FULL_WIDTH = MAX_WIDTH_IN
FONTS = {  # seaborn's paper context, at sizes that stay >= 7 pt
    "font.size": 8.0,
    "axes.labelsize": 8.0,
    "axes.titlesize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 7.5,
    "figure.titlesize": 9.0,
    "lines.markersize": 4.0,
    "legend.handlelength": 1.8,
}
MARKER = {"marker": "o", "ms": 3.5}  # every logged point shows, even where there are only three
KNOB_LABEL = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "L2 (weight decay)",
    "gc_reg": "GC penalty",
}
KNOB_DIRECTION = {
    "lr": "increased learning rate",
    "batch_size": "decreased batch size",
    "weight_decay": "increased L2",
    "gc_reg": "increased GC penalty",
}
KNOB_STRONGER = {  # the knob's direction of stronger regularisation, for a finding
    "lr": "larger learning rate",
    "batch_size": "smaller batch",
    "weight_decay": "larger L2",
    "gc_reg": "larger GC penalty",
}
STRONGER_WHEN_LARGER = {"lr": True, "batch_size": False, "weight_decay": True, "gc_reg": True}
STRENGTH_CMAP = "viridis"
STRENGTH_SPAN = (0.82, 0.08)  # colormap positions of the weakest and the strongest value
STRENGTH_NOTE = "colour: light = weak, dark = strong regularisation"
METRIC_LABEL = {
    "gc": "embedding GC",
    "geometric_collapse": "geometric collapse (Eq. 7)",
    "nc": "NC (average CDNV)",
    "accuracy": "test accuracy",
    "train_accuracy": "training accuracy",
    "test_accuracy": "test accuracy",
}
METRIC_SHORT = {"gc": "GC", "geometric_collapse": "geometric collapse", "nc": "NC"}


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
    for knob in plan["knobs"]:  # the sweep rows of the run plan (gcnc.study.plan), decided once
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


def plan_setting(plan: dict[str, Any]) -> str:
    """'VGG, width 8 on Fashion-MNIST': a planned figure's network and data, as people name
    them."""
    runs = plan.get("runs") or [{}]
    return setting_name(plan["dataset"], plan["arch"], runs[0].get("model"))


def finish(fig: Figure, title: str) -> None:
    """A short title above the figure (what it shows, on which network and data); run details
    go in the caption."""
    size = FONTS["figure.titlesize"]
    chars = int(fig.get_figwidth() * 72 / (0.6 * size))  # about 0.6 em a character
    fig.suptitle(textwrap.fill(title, chars), fontsize=size)


def caption(plan: dict[str, Any], *parts: str) -> str:
    """The planned caption (what the paper ran, what ran here, what is drawn) followed by
    ``parts``: what the bands mean and what the data show, one sentence each."""
    sentences = [plan["caption"]] + [p[0].upper() + p[1:].rstrip(". ") + "." for p in parts if p]
    return " ".join(s.strip() for s in sentences if s.strip())


def after_init(data: pd.DataFrame) -> pd.DataFrame:
    """Rows logged after initialisation (step > 0), where there are any: GC at step 0 is orders of
    magnitude below the rest and would stretch a log axis over decades."""
    later = data[data.step > 0]
    return later if len(later) else data


def short_number(value: float) -> str:
    return f"{value:.2g}" if abs(value) < 0.1 else f"{value:.3g}"


def change(values: Sequence[float]) -> str:
    """How a quantity moved from the first to the last of ``values`` (weak to strong
    regularisation, or along training): 'fell (43 → 24)', 'rose, not monotonically
    (0.05 → 0.1)'."""
    vals = [float(v) for v in values if np.isfinite(v)]
    if len(vals) < 2:
        return "was measured once"
    first, last = vals[0], vals[-1]
    word = "fell" if last < first else "rose" if last > first else "did not change"
    steps = np.diff(vals)
    monotone = bool(np.all(steps <= 0) or np.all(steps >= 0))
    span = f"{short_number(first)} → {short_number(last)}"
    return f"{word}{'' if monotone else ', not monotonically'} ({span})"


def _plain(value: float, _pos: int | None = None) -> str:
    return f"{value:g}" if value > 0 else ""


def readable_log(ax: Axes, which: str = "y") -> None:
    """Log-axis ticks a reader can take in at a glance, from the axis's current limits.

    Under one decade (a factor 3 on an x axis, where labels run side by side): a few plain
    ticks (0.45, 0.5, ...), no minor labels; up to three decades on a y axis (two on an x
    axis): 1-2-5 ticks; beyond: one tick per decade. Labels are plain numbers (0.01, 20, 300),
    or all powers of ten (10^-4 ... 10^6) when a wide axis reaches beyond 10^4 or below 10^-3.
    Call after the limits are final (after all plotting).
    """
    axis = ax.yaxis if which == "y" else ax.xaxis
    lo, hi = ax.get_ylim() if which == "y" else ax.get_xlim()
    ratio = hi / lo if lo > 0 else np.inf
    if ratio < (10 if which == "y" else 3):  # x labels run side by side: plain ones only when
        bins = 5 if which == "y" else 4  # the span is short, else 1-2-5 below
        axis.set_major_locator(MaxNLocator(nbins=bins, steps=[1, 2, 5, 10], min_n_ticks=3))
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


def step_ticks(ax: Axes, steps: Iterable[float]) -> None:
    """A tick at each logged step where there are few (up to 6), so that few points read as
    points at the steps they were logged; beyond 4 ticks every other one is labelled (the last
    always), so that labels such as 1,250 never run into their neighbours."""
    logged = sorted({int(s) for s in steps})
    if 1 < len(logged) <= 6:
        every = 2 if len(logged) > 4 else 1
        last = len(logged) - 1
        labels = [f"{s:,}" if (last - i) % every == 0 else "" for i, s in enumerate(logged)]
        ax.set_xticks(logged, labels)


def mean_sd_line(
    ax: Axes, data: pd.DataFrame, x: str, y: str, colour: Any, label: str, **line: Any
) -> None:
    """Mean of ``y`` over the rows at each ``x`` (seeds, trials), a marker at each, with a +-1 sd
    band where there are at least two rows."""
    g = data.groupby(x)[y].agg(["mean", "std", "size"]).sort_index()
    ax.plot(g.index, g["mean"], color=colour, label=label, **(MARKER | line))
    band = g[g["size"] > 1]
    if len(band):
        lo, hi = band["mean"] - band["std"], band["mean"] + band["std"]
        ax.fill_between(band.index, lo, hi, color=colour, alpha=0.2, lw=0)


def visible_texts(fig: Figure) -> list[Text]:
    """Every text the figure shows (titles, labels, tick labels, legends, annotations), after a
    draw (tick labels exist only then)."""
    fig.canvas.draw()
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def check_size_and_fonts(fig: Figure) -> dict[str, float]:
    """Width, height and smallest font of ``fig`` at its final size; ValueError when it is wider
    than :data:`MAX_WIDTH_IN` or any text is smaller than :data:`MIN_FONT_PT`."""
    width, height = (float(v) for v in fig.get_size_inches())
    texts = visible_texts(fig)
    smallest = min(texts, key=lambda t: t.get_fontsize(), default=None)
    size = float(smallest.get_fontsize()) if smallest is not None else float("inf")
    if width > MAX_WIDTH_IN + 1e-9:
        raise ValueError(f"figure is {width:.2f} in wide; at most {MAX_WIDTH_IN} in")
    if size < MIN_FONT_PT - 1e-9:
        raise ValueError(
            f"text '{smallest.get_text()[:40]}' is {size:g} pt; at least {MIN_FONT_PT:g} pt"
        )
    return {"width_in": width, "height_in": height, "min_font_pt": size}


def overflow_inches(fig: Figure) -> float:
    """How far the drawn artists reach beyond the figure's edges (0: nothing is cut off)."""
    fig.canvas.draw()
    box = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    width, height = fig.get_size_inches()
    return float(max(0.0, -box.x0, -box.y0, box.x1 - width, box.y1 - height))


def save(fig: Figure, pdf: str, png: str, data: pd.DataFrame, csv: str) -> dict[str, float]:
    """PDF (Type 42 fonts) and 300-dpi PNG of ``fig`` at its own size, after
    :func:`check_size_and_fonts`, and the plotted data as CSV; returns the size and smallest
    font."""
    quality = check_size_and_fonts(fig)
    with plt.rc_context(RC):
        fig.savefig(pdf)
        fig.savefig(png, dpi=PNG_DPI)
    plt.close(fig)
    data.to_csv(csv, index=False)
    return quality
