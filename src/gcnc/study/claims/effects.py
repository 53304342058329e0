"""Effect sizes of the claim rows, computed within each seed (:mod:`gcnc.study.claims.stats`), and
the
plan columns every claim frame carries (comparison group, seed)."""

from __future__ import annotations

import pandas as pd

from gcnc.study.claims.catalogue import Claim
from gcnc.study.claims.stats import extreme_ratio_by_seed, tau_by_seed
from gcnc.study.claims.table import Claims, Effect
from gcnc.study.plan import with_group

# sign of Kendall(knob, GC) the paper predicts; the knob's regularising end is its max (or min)
KNOB_SIGN = {"lr": -1, "batch_size": +1, "weight_decay": -1, "gc_reg": -1}


def knob_effect(knob: str, metric: str, difference: bool = False) -> Effect:
    """Per seed: ``metric`` at the knob's regularising end over (or minus) its other end."""
    toward_max = KNOB_SIGN[knob] < 0

    def effect(g: pd.DataFrame) -> tuple[pd.Series, str, bool]:
        values, label = extreme_ratio_by_seed(g, knob, metric, toward_max, difference)
        return values, label, not difference

    return effect


def tau_effect(x: str, y: str) -> Effect:
    """Per seed: Kendall's tau-b of ``x`` and ``y`` over the seed's runs."""
    return lambda g: (tau_by_seed(g, x, y), f"Kendall tau-b({x}, {y}) within each seed", False)


def link(c: Claims, claim: Claim, frame: pd.DataFrame, x: str, y: str, sign: int) -> None:
    """A link between two metrics across runs: its effect is Kendall's tau within each seed, so
    its test sums S within seeds too (:meth:`Claims.trend` with ``by_seed``)."""
    c.trend(claim, frame, x, y, sign, tau_effect(x, y), by_seed=True)


def with_plan(frame: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (rows with a ``run_id``) with each run's comparison group and seed from the
    plan; rows of runs the plan does not know are dropped."""
    seeds = plan[["run_id", "seed"]].drop_duplicates("run_id")
    return with_group(frame.drop(columns="seed", errors="ignore").merge(seeds, on="run_id"), plan)
