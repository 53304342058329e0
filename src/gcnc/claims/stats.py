"""Statistics and verdicts of the claims report.

Verdict rule (also written into claims.md):
- a *signed* claim ("X lowers Y") is tested within each study (runs of one dataset, architecture
  and task) by the Spearman rank correlation across the runs that bear on it; it is
  ``reproduced`` when the 95% bootstrap interval (runs resampled) lies entirely on the predicted
  side of 0, ``not reproduced`` when it lies entirely on the other side, and ``inconclusive``
  otherwise, and always with fewer than 5 runs or 3 distinct values. `direction` says on which
  side the point estimate fell, whatever the verdict;
- a *pooled* row (only where two or more studies bear on a claim) correlates ranks taken within
  each study, resampling runs within each study, so that scale differences between studies never
  enter the statistic;
- a *threshold* claim ("holds in most checkpoints", "error under 5%") is ``reproduced`` when the
  interval lies entirely past the threshold (or inside the range), ``not reproduced`` when
  entirely short of it (or outside), and ``inconclusive`` otherwise.
Nothing is hard-coded: change the data and the verdicts follow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

MIN_RUNS = 5  # fewer runs, or fewer distinct values of the knob, than this: inconclusive
MIN_LEVELS = 3
VERDICT_RULE = __doc__.split("Verdict rule (also written into claims.md):\n")[1].split(
    "Nothing is hard-coded"
)[0]
Columns = dict[str, np.ndarray]
Stat = Callable[[Columns], float]


class _Resample(dict):
    """Columns of a frame at resampled rows, each indexed only when a statistic reads it."""

    def __init__(self, columns: Columns, index: np.ndarray) -> None:
        super().__init__()
        self.columns, self.index = columns, index

    def __missing__(self, key: str) -> np.ndarray:
        self[key] = self.columns[key][self.index]
        return self[key]


def bootstrap_ci(
    frame: pd.DataFrame, stat: Stat, n_boot: int, seed: int, strata: str | None = None
) -> tuple[float, float, float]:
    """Statistic of ``frame``'s columns and its percentile 95% interval; rows are resampled
    with replacement, within each value of the ``strata`` column when given."""
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    value = stat(_Resample(columns, np.arange(len(frame))))
    rng = np.random.default_rng(seed)
    groups = [np.arange(len(frame))]
    if strata is not None:
        codes = columns[strata]
        groups = [np.flatnonzero(codes == g) for g in pd.unique(codes)]
    draws = np.empty(n_boot)
    for b in range(n_boot):
        index = np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])
        draws[b] = stat(_Resample(columns, index))
    finite = draws[np.isfinite(draws)]
    if len(finite) < n_boot // 2:
        return value, float("nan"), float("nan")
    return value, float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (as ``scipy.stats.rankdata``, which is ~20x
    slower on the few dozen values of a bootstrap draw). A NaN or infinity is refused
    (``ValueError``): it has no rank."""
    a = np.asarray(values, dtype=float)
    if not np.isfinite(a).all():  # argsort would rank NaN above every number
        raise ValueError("ranks of non-finite values are undefined; leave those rows out first")
    order = np.argsort(a, kind="mergesort")
    ordered = a[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    edges = np.r_[np.flatnonzero(starts), len(a)]
    average = 0.5 * (edges[:-1] + edges[1:] - 1) + 1
    ranks = np.empty(len(a))
    ranks[order] = average[np.cumsum(starts) - 1]
    return ranks


def _rank_corr(rx: np.ndarray, ry: np.ndarray) -> float:
    """Pearson correlation of two rank vectors (NaN when either is constant)."""
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    return float((rx * ry).sum() / denominator) if denominator > 0 else float("nan")


def spearman(x: str, y: str) -> Stat:
    """Spearman's rank correlation of two columns (NaN when either is constant)."""
    return lambda d: _rank_corr(average_ranks(d[x]), average_ranks(d[y]))


def within_group_spearman(x: str, y: str, group: str = "group") -> Stat:
    """Correlation of ranks taken within each group (as fractions of the group's size, centred
    per group): a stratified Spearman that pools studies without mixing their scales."""

    def stat(d: Columns) -> float:
        rx, ry = np.empty(len(d[x])), np.empty(len(d[y]))
        for g in pd.unique(d[group]):
            at = d[group] == g
            for ranks, col in ((rx, x), (ry, y)):
                r = average_ranks(d[col][at]) / at.sum()
                ranks[at] = r - r.mean()
        return _rank_corr(rx, ry)

    return stat


def direction(value: float, sign: int) -> str:
    """On which side of 0 the point estimate fell, against the predicted sign."""
    if not np.isfinite(value) or value == 0:
        return "none"
    return "as predicted" if np.sign(value) == sign else "opposite"


def verdict_signed(lo: float, hi: float, sign: int) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if (sign < 0 and hi < 0) or (sign > 0 and lo > 0):
        return "reproduced"
    if (sign < 0 and lo > 0) or (sign > 0 and hi < 0):
        return "not reproduced"
    return "inconclusive"


def verdict_threshold(lo: float, hi: float, threshold: float, above: bool) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if (above and lo > threshold) or (not above and hi < threshold):
        return "reproduced"
    if (above and hi < threshold) or (not above and lo > threshold):
        return "not reproduced"
    return "inconclusive"


def verdict_range(lo: float, hi: float, low: float, high: float) -> str:
    """Reproduced when the interval lies inside [low, high], not when entirely outside."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if low <= lo and hi <= high:
        return "reproduced"
    if hi < low or lo > high:
        return "not reproduced"
    return "inconclusive"
