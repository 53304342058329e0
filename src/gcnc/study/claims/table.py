"""Rows of the claims report: one per (claim, comparison group), each a test with its p-value,
Holm-adjusted p-value, effect size and verdict (:mod:`gcnc.study.claims.stats` states the rule).
One class, :class:`Claims`, makes every kind of row, so that all rows share one layout and one
Holm adjustment; it keeps the module a little over 300 lines."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from gcnc.study.claims.catalogue import Claim
from gcnc.study.claims.exact import (
    Test,
    holm,
    kendall_test,
    named,
    rms_below_test,
    sign_flip_test,
    trend_test_name,
)
from gcnc.study.claims.stats import (
    ALPHA,
    bootstrap_ci,
    direction,
    finite_rows,
    seed_interval,
    verdict,
)

COLUMNS = [
    "kind",
    "claim",
    "source",
    "paper_text",
    "study",
    "n_runs",
    "seeds",
    "predicted",
    "direction",
    "test",
    "statistic",
    "p",
    "p_adj",
    "effect",
    "effect_low",
    "effect_high",
    "effect_label",
    "verdict",
    "note",
]
KINDS = ("paper", "extension", "sanity")
Effect = Callable[[pd.DataFrame], tuple[pd.Series, str, bool]]  # per-seed values, label, log?
TAU = (-1.0, 1.0)  # the range of Kendall's tau: intervals of mean taus are clipped to it


def _sign(test: Test) -> int:
    """+1 when the statistic is more likely high than low by chance's yardstick, -1 the other
    way, 0 when neither tail is smaller."""
    if not (np.isfinite(test.p_up) and np.isfinite(test.p_down)) or test.p_up == test.p_down:
        return 0
    return 1 if test.p_up < test.p_down else -1


def _runs(frame: pd.DataFrame) -> int:
    return int(frame["run_id"].nunique()) if "run_id" in frame else len(frame)


def _seeds(frame: pd.DataFrame) -> int:
    return int(frame["seed"].nunique()) if "seed" in frame else 0


@dataclass
class Claims:
    """Collects the rows. ``kinds`` maps a comparison group to the kind of row the paper's claims
    make on it: ``paper`` on the datasets the paper names, ``extension`` on our synthetic ones.
    ``replicates`` names each group's training protocol and its dataset and architecture: a
    pooled row pools groups of one protocol on other data or another network, never two
    protocols."""

    seed: int
    kinds: dict[str, str]
    # group -> (protocol, "dataset x arch"): what a pooled row may pool
    replicates: dict[str, tuple[str, str]] = field(default_factory=dict)
    n_boot: int = 1000
    rows: list[dict[str, Any]] = field(default_factory=list)

    def _kind(self, claim: Claim, group: str) -> str:
        if claim.origin != "paper":
            return claim.origin
        return self.kinds.get(group, "extension")

    def _add(self, claim: Claim, group: str, frame: pd.DataFrame, **cells: Any) -> None:
        kind = cells.pop("kind", None) or self._kind(claim, group)
        row = dict.fromkeys(COLUMNS, float("nan")) | {"note": ""}
        row |= {"kind": kind, "claim": claim.text, "source": claim.source, "study": group}
        row |= {"paper_text": claim.quoted()}
        row |= {"n_runs": _runs(frame), "seeds": _seeds(frame)}
        self.rows.append(row | cells)

    def _test_row(
        self,
        claim: Claim,
        group: str,
        frame: pd.DataFrame,
        test: Test,
        sign: int,
        effect: tuple[float, float, float],
        label: str,
        predicted: str | None = None,
        kind: str | None = None,
    ) -> None:
        testable = np.isfinite(test.p) and not test.best_p > ALPHA
        note = ""
        if not testable:
            best = "" if not np.isfinite(test.best_p) else f" (best attainable p {test.best_p:.2g})"
            note = f"not testable: {test.method}{best}"
        self._add(
            claim,
            group,
            frame,
            kind=kind,
            predicted=predicted or ("positive" if sign > 0 else "negative"),
            direction=direction(_sign(test), sign),
            test=test.method,
            statistic=test.statistic,
            p=test.p if testable else float("nan"),
            effect=effect[0],
            effect_low=effect[1],
            effect_high=effect[2],
            effect_label=label,
            note=note,
            _sign=(_sign(test), sign),
        )

    def _missing(self, claim: Claim, predicted: str, why: str, group: str = "-") -> None:
        self._add(claim, group, pd.DataFrame(), predicted=predicted, note=f"not testable: {why}")

    def trend(
        self, claim: Claim, frame: pd.DataFrame, x: str, y: str, sign: int, effect: Effect,
        absent: dict[str, list[str]] | None = None, by_seed: bool = False,
    ) -> None:  # fmt: skip
        """``y`` rises (sign +1) or falls (-1) with ``x`` over the runs of each group (Kendall's
        S, exact under permutation), and pooled over the groups of one kind (S summed within
        groups) where two or more datasets or architectures test it (:meth:`_pools`).
        ``by_seed``: S is summed within seeds (each seed's runs permuted on their own), the
        test that matches an effect read within each seed (a Kendall tau between two metrics).
        ``absent`` names, per group, runs left out of the reading (said in the row's note)."""
        absent = absent or {}
        predicted = "positive" if sign > 0 else "negative"
        if frame.empty and not absent:
            return self._missing(claim, predicted, f"no runs ({y})")
        for group in sorted(set(absent) - set(frame.get("group", ()))):
            runs = absent[group]
            why = f"no run reached it ({len(runs)} never did: {', '.join(runs)})"
            self._missing(claim, predicted, why, group)
        if frame.empty:
            return
        tested: dict[str, list[pd.DataFrame]] = {}
        for group, everything in frame.groupby("group", sort=True):
            g = finite_rows(everything, [x, y])
            strata = g["seed"].to_numpy() if by_seed else None
            test = kendall_test(g[x].to_numpy(), g[y].to_numpy(), strata, seed=self.seed)
            test = named(
                test, trend_test_name(g[x]) + (", S summed within seeds" if by_seed else "")
            )
            per_seed, label, log = effect(g) if len(g) else (pd.Series(dtype=float), "-", False)
            limits = TAU if label.startswith("Kendall") else (-np.inf, np.inf)
            interval = seed_interval(per_seed, log, limits)
            self._test_row(claim, group, g, test, sign, interval, label)
            if absent.get(group):
                left = f"{len(absent[group])} runs never reached it: {', '.join(absent[group])}"
                self.rows[-1]["note"] = "; ".join(filter(None, [self.rows[-1]["note"], left]))
            if np.isfinite(test.p) and not test.best_p > ALPHA:
                tested.setdefault(self._kind(claim, group), []).append(g)
        for kind, parts in tested.items():
            for protocol, pooled in self._pools(parts):
                strata = pooled["group"].astype(str)
                strata = strata + "/" + pooled["seed"].astype(str) if by_seed else strata
                test = kendall_test(pooled[x], pooled[y], strata.to_numpy(), self.seed)
                test = named(
                    test, f"Kendall's S summed within {'seeds of ' if by_seed else ''}groups"
                )
                n = pooled.group.nunique()
                group = f"pooled: {n} datasets or networks ({protocol}), S within each"
                self._test_row(claim, group, pooled, test, sign, (np.nan,) * 3, "-", kind=kind)

    def _pools(self, parts: list[pd.DataFrame]) -> list[tuple[str, pd.DataFrame]]:
        """Per training protocol, the groups that are its only one on their dataset and
        architecture, stacked, where two or more are; each run counts once (an error
        otherwise)."""
        by_protocol: dict[str, list[tuple[str, pd.DataFrame]]] = {}
        for p in parts:
            group = str(p.group.iloc[0])
            protocol, data = self.replicates.get(group, (group, group))
            by_protocol.setdefault(protocol, []).append((data, p))
        pools = []
        for protocol, members in by_protocol.items():
            labels = [data for data, _ in members]
            keep = [p for data, p in members if labels.count(data) == 1]
            if len(keep) >= 2:
                pooled = pd.concat(keep)
                if pooled.run_id.duplicated().any():
                    raise ValueError("a run is counted in two pooled groups")
                pools.append((protocol, pooled))
        return pools

    def within_runs(
        self, claim: Claim, frame: pd.DataFrame, x: str, y: str, sign: int, label: str
    ) -> None:
        """``y`` rises or falls with ``x`` inside each run (S summed over runs, each permuted on
        its own), per group; effect: each run's tau-b, averaged per seed."""
        if frame.empty:
            return self._missing(claim, "positive" if sign > 0 else "negative", f"no runs ({y})")
        for group, everything in frame.groupby("group", sort=True):
            g = finite_rows(everything, [x, y])
            test = kendall_test(g[x], g[y], g["run_id"].to_numpy(), self.seed)
            test = named(test, "Kendall's S summed within runs")
            per_run = g.groupby(["seed", "run_id"])[[x, y]].corr(method="kendall")
            tau = per_run.xs(x, level=2)[y] if len(per_run) else pd.Series(dtype=float)
            per_seed = tau.groupby(level="seed").mean()
            self._test_row(claim, group, g, test, sign, seed_interval(per_seed, limits=TAU), label)

    def at_every_step(
        self, claim: Claim, frames: dict[str, dict[int, pd.DataFrame]], x: str, y: str,
        sign: int, effect: Effect,
    ) -> None:  # fmt: skip
        """Intersection-union test: ``y`` moves with ``x`` at every logged step of a group
        (``frames``: group -> step -> runs). p in the predicted direction is the largest of the
        steps'; p the other way the smallest times the number of steps (Bonferroni)."""
        if not frames:
            return self._missing(claim, "at every step", f"no logged steps ({y})")
        for group, by_step in sorted(frames.items()):
            tests = {t: kendall_test(f[x], f[y], seed=self.seed) for t, f in by_step.items()}
            pred = {t: (v.p_up if sign > 0 else v.p_down) for t, v in tests.items()}
            other = {t: (v.p_down if sign > 0 else v.p_up) for t, v in tests.items()}
            weakest = max(pred, key=lambda t: (np.nan_to_num(pred[t], nan=2.0), t))
            p_pred, p_other = pred[weakest], min(1.0, len(tests) * min(other.values()))
            up, down = (p_pred, p_other) if sign > 0 else (p_other, p_pred)
            best = max(v.best_p for v in tests.values())
            method = f"intersection-union over {len(tests)} steps, Jonckheere-Terpstra at each"
            test = Test(tests[weakest].statistic, up, down, method, tests[weakest].n, best)
            per_seed, label, log = effect(by_step[weakest])
            label = f"{label}, at step {weakest} (the weakest)"
            runs = pd.concat(by_step.values())
            self._test_row(claim, group, runs, test, sign, seed_interval(per_seed, log), label)

    def mean_against(
        self, claim: Claim, frame: pd.DataFrame, column: str, threshold: float, sign: int,
        label: str, log: bool = False,
    ) -> None:  # fmt: skip
        """The runs' mean of ``column`` lies above (sign +1) or below (-1) ``threshold`` (on the
        log scale with ``log``): a sign-flip test per group; effect: the per-seed mean."""
        predicted = f"{'>' if sign > 0 else '<'} {threshold:g}"
        if frame.empty:
            return self._missing(claim, predicted, f"no runs ({column})")
        for group, everything in frame.groupby("group", sort=True):
            g = finite_rows(everything, [column])
            g = g[g[column] > 0] if log else g
            values = np.log(g[column]) if log else g[column]
            cut = np.log(threshold) if log else threshold
            test = named(sign_flip_test(values.to_numpy(), cut, self.seed), "sign-flip test")
            per_seed = g.groupby("seed")[column].apply(
                lambda v: float(np.exp(np.log(v).mean())) if log else float(v.mean())
            )
            effect = seed_interval(per_seed, log)
            self._test_row(claim, group, g, test, sign, effect, label, predicted)

    def rms_below(
        self, claim: Claim, group: str, trials: pd.DataFrame, tolerance: float, label: str
    ) -> None:
        """The trials' RMS relative error lies below ``tolerance`` (chi-square test); effect:
        the RMS with its 95% interval over trials (one model: no seeds)."""
        errors = (trials.estimate / trials.exact - 1).to_numpy(dtype=float)
        test = rms_below_test(errors, tolerance)
        n = np.isfinite(errors).sum()
        ss = np.nansum(errors**2)
        lo, hi = np.sqrt(ss / scipy.stats.chi2.ppf([0.975, 0.025], n)) if n else (np.nan,) * 2
        predicted = f"RMS < {tolerance:g}"
        self._test_row(claim, group, trials, test, -1, (test.statistic, lo, hi), label, predicted)

    def sanity(
        self, claim: Claim, group: str, frame: pd.DataFrame, value: float, passed: bool,
        predicted: str, label: str,
    ) -> None:  # fmt: skip
        """A check that holds by construction: ``pass`` or ``fail``, never counted."""
        verdict_ = "pass" if passed else "fail"
        self._add(claim, group, frame, kind="sanity", predicted=predicted, effect=value,
                  effect_label=label, verdict=verdict_, direction="as predicted" if passed
                  else "opposite", test="check (no test)")  # fmt: skip

    def comparison(
        self, claim: Claim, group: str, frame: pd.DataFrame, value: float, verdict_: str,
        predicted: str, label: str, note: str,
    ) -> None:  # fmt: skip
        """A quantity set beside the paper's number (no test): ``not comparable`` where the units
        or the data differ from the paper's, else inside or outside the paper's range."""
        self._add(claim, group, frame, predicted=predicted, effect=value, effect_label=label,
                  verdict=verdict_, test="comparison (no test)", note=note)  # fmt: skip

    def estimate(
        self, claim: Claim, frame: pd.DataFrame, stat: Callable, bounds: tuple[float, float],
        label: str,
    ) -> None:  # fmt: skip
        """An estimate with a percentile bootstrap interval (runs resampled), per group: inside
        ``bounds`` when the whole interval is, outside when the whole interval is."""
        low, high = bounds
        for group, g in frame.groupby("group", sort=True):
            value, lo, hi = bootstrap_ci(g, stat, self.n_boot, self.seed)
            inside = low <= lo and hi <= high
            outside = hi < low or lo > high
            v = "reproduced" if inside else "not reproduced" if outside else "inconclusive"
            self._add(claim, group, g, predicted=f"in [{low:g}, {high:g}]", effect=value,
                      effect_low=lo, effect_high=hi, effect_label=label, verdict=v,
                      test=f"bootstrap interval ({self.n_boot} resamples; no p-value)")  # fmt: skip

    def table(self) -> pd.DataFrame:
        """The rows with Holm-adjusted p-values per family (kind, group) and their verdicts."""
        table = pd.DataFrame(self.rows)
        signs = table.pop("_sign") if "_sign" in table else pd.Series(np.nan, index=table.index)
        for column in COLUMNS:
            if column not in table:
                table[column] = np.nan
        table["verdict"] = table.verdict.astype(object)
        table["p_adj"] = table.p_adj.astype(float)
        tested = table.p.notna()
        for _, family in table[tested].groupby(["kind", "study"]):
            table.loc[family.index, "p_adj"] = holm(family.p.to_numpy())
        for i in table.index[tested]:
            observed, predicted = signs[i]
            table.loc[i, "verdict"] = verdict(table.p_adj[i], observed, predicted)
        table.loc[table.verdict.isna(), "verdict"] = "inconclusive"
        return table[COLUMNS]
