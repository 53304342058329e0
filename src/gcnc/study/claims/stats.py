"""How a claim row reaches its verdict, and the effect sizes it reports.

Verdict rule (also written into claims.md):
- Each row is one two-sided test of the claim's predicted direction (module
`gcnc.study.claims.exact`):
  a trend over a knob is Kendall's S over the runs of one comparison group, exact under
  permutation (the Jonckheere-Terpstra test when the knob takes a few values, each with its
  seeds as replicates); a link between two metrics across runs is S summed within seeds, each
  seed's runs permuted on their own (its effect, Kendall's tau, is read within each seed, so
  differences between seeds cannot make a verdict); a trend along training is S summed within
  runs; "at every logged step" is an intersection-union test (the largest of the steps' p-values
  in the predicted direction); a mean against a threshold is a sign-flip test; the spread of a
  sampled estimate is a chi-square test of its RMS error against the tolerance.
- p-values are adjusted by Holm's step-down method within each family: the rows of one kind
  (the paper's claims, or our extensions) on one comparison group of one preset. A row enters
  its family only if its design can reach p <= 0.05 at all (the smallest p-value attainable with
  its runs and knob values); the others are "not testable" here and stay inconclusive.
- *reproduced*: adjusted p <= 0.05 and the statistic on the predicted side; *not reproduced*:
  adjusted p <= 0.05 on the other side; *inconclusive* otherwise. So a family of claims is
  tested at family-wise error rate 0.05 against both kinds of wrong verdict.
- Sanity checks (true by construction: Prop. 4.1 with a valid constant, unbiased estimators)
  *pass* or *fail* and never count as reproductions. A constant measured in other units or
  on other data than the paper's is *not comparable*, with its conversions shown.
- The effect size is computed within each seed (a seed replicates the whole design: the same
  initialisation and data order at every knob value) and summarised by its mean over seeds with a
  95% t-interval over seeds (geometric mean and interval for ratios); one seed gives no interval.
Nothing is hard-coded: change the data and the verdicts follow.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import scipy.stats

ALPHA = 0.05
VERDICT_RULE = __doc__.split("Verdict rule (also written into claims.md):\n")[1].split(
    "Nothing is hard-coded"
)[0]
Columns = dict[str, np.ndarray]
Stat = Callable[[Columns], float]
NAN3 = (float("nan"),) * 3


def seed_interval(
    values: pd.Series, log: bool = False, limits: tuple[float, float] = (-np.inf, np.inf)
) -> tuple[float, float, float]:
    """Mean of per-seed ``values`` with its 95% t-interval over seeds, clipped to the statistic's
    ``limits``; on the log scale (geometric mean and interval) with ``log``. NaN interval with
    fewer than 2 finite seeds."""
    v = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if len(v) == 0:
        return NAN3
    t = np.log(v) if log else v
    mean = t.mean()
    if len(t) < 2:
        lo = hi = float("nan")
    else:
        half = scipy.stats.t.ppf(0.975, len(t) - 1) * t.std(ddof=1) / np.sqrt(len(t))
        lo, hi = mean - half, mean + half
    back = np.exp if log else (lambda z: z)
    lo, hi = np.clip([back(lo), back(hi)], *limits)
    return float(back(mean)), float(lo), float(hi)


def tau_by_seed(frame: pd.DataFrame, x: str, y: str) -> pd.Series:
    """Kendall's tau-b of ``x`` and ``y`` over the runs of each seed."""
    return frame.groupby("seed").apply(
        lambda g: scipy.stats.kendalltau(g[x], g[y]).statistic if len(g) >= 3 else np.nan,
        include_groups=False,
    )


def extreme_ratio_by_seed(
    frame: pd.DataFrame, knob: str, y: str, toward_max: bool, difference: bool = False
) -> tuple[pd.Series, str]:
    """Per seed: ``y`` at the knob's regularising end (its largest value with ``toward_max``, else
    its smallest) over ``y`` at the other end (minus, with ``difference``), and a label."""
    lo, hi = frame[knob].min(), frame[knob].max()
    toward, away = (hi, lo) if toward_max else (lo, hi)

    def per_seed(g: pd.DataFrame) -> float:
        a, b = g.loc[g[knob] == toward, y], g.loc[g[knob] == away, y]
        if a.empty or b.empty:
            return np.nan
        return float(a.mean() - b.mean()) if difference else float(a.mean() / b.mean())

    values = frame.groupby("seed").apply(per_seed, include_groups=False)
    how = "-" if difference else "/"
    return values, f"{y} at {knob} {toward:g} {how} at {away:g}"


def bootstrap_ci(
    frame: pd.DataFrame, stat: Stat, n_boot: int, seed: int
) -> tuple[float, float, float]:
    """Statistic of ``frame``'s columns and its percentile 95% interval, rows resampled with
    replacement (the one estimate with no test: where Li et al.'s accuracy curve peaks)."""
    columns = {c: frame[c].to_numpy() for c in frame.columns}
    value = stat(columns)
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            stat({c: v[idx] for c, v in columns.items()})
            for idx in (rng.integers(0, len(frame), len(frame)) for _ in range(n_boot))
        ]
    )
    finite = draws[np.isfinite(draws)]
    if len(finite) < n_boot // 2:
        return value, float("nan"), float("nan")
    return value, float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def verdict(p_adj: float, observed_sign: int, predicted_sign: int) -> str:
    """The rule above, from a row's adjusted p and the signs of its statistic and prediction."""
    if not np.isfinite(p_adj) or p_adj > ALPHA or observed_sign == 0:
        return "inconclusive"
    return "reproduced" if observed_sign == predicted_sign else "not reproduced"


def direction(observed_sign: int, predicted_sign: int) -> str:
    """On which side the statistic fell, against the predicted sign, whatever the verdict."""
    if observed_sign == 0:
        return "none"
    return "as predicted" if observed_sign == predicted_sign else "opposite"


def finite_rows(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``columns`` are all finite numbers."""
    values = frame[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return frame[np.isfinite(values).all(axis=1)]
