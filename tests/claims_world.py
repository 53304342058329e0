"""A synthetic study for the claims tests: Fig. 1's design (each knob at three values around a
base point, 3 seeds, runs logged at 4 steps) on a dataset the paper names, with every relation
the claims read set by hand: as the paper predicts (+1), the opposite way (-1) or noise (0).

Every quantity is a product of a knob's effect and a seed jitter, so the claims see distinct
values; the relation of one quantity can be flipped while the others stay as predicted.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gcnc.study.grid import expand_runs
from gcnc.study.plan import run_plan

STEPS = (0, 100, 200, 300)
BASE = {"lr": 0.05, "batch_size": 64, "weight_decay": 0.0005, "gc_reg": 0.0}
SWEEP = {"lr": [0.01, 0.2], "batch_size": [16, 128], "weight_decay": [0.0, 0.005]}
STRENGTH = {"lr": 0.3, "batch_size": 0.5, "weight_decay": 0.7}  # each knob its own size
PREDICTED = {
    "gc": 1, "geometric_collapse": 1, "nc": 1, "nc_time": 1, "target_nc": 1, "accuracy": 1,
    "vacuous": 1, "tracks": 1, "sampling": 1,
}  # fmt: skip


def config(dataset_kind: str = "fashion_mnist", seeds=(0, 1, 2)) -> dict:
    """A preset with one Fig. 1 study (and its Fig. 3 seeds) on a dataset of ``dataset_kind``."""
    study = {"dataset": "data", "arch": "vgg", "task": "source", "base": BASE, "sweep": SWEEP}
    study |= {"seeds": list(seeds)}
    spec = {"kind": dataset_kind, "source_classes": [0, 1, 2, 3, 4]}
    return {
        "datasets": {"data": spec | {"target_classes": [5, 6, 7, 8, 9]}},
        "presets": {
            "t": {
                "training": {"steps": STEPS[-1], "log_every": 100, "lr_schedule": "cosine"},
                "studies": {"fig1": study, "fig3": study | {"sweep": {}}},
            }
        },
    }


def strength(run: pd.Series) -> tuple[str | None, int]:
    """The knob a run moves and where to: -1 weaker, 0 base, +1 stronger regularisation."""
    for knob in SWEEP:
        if run[knob] != BASE[knob]:
            stronger = run[knob] < BASE[knob] if knob == "batch_size" else run[knob] > BASE[knob]
            return knob, 1 if stronger else -1
    return None, 0


def _effect(rng: np.random.Generator, relation: int, knob: str | None, r: int) -> float:
    """exp(-a r) for a knob of strength a (predicted: falls with regularisation), its inverse
    for -1, a random factor for 0."""
    if relation == 0:
        return float(np.exp(0.5 * rng.standard_normal()))
    return float(np.exp(-relation * STRENGTH.get(knob, 0.0) * r))


def write_world(tmp: Path, relations: dict[str, int] | None = None, **kw) -> dict[str, str]:
    """The claims' input tables for the world with ``relations`` over PREDICTED."""
    rel = PREDICTED | (relations or {})
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = config(**kw)
    plan = run_plan(cfg, "t")
    specs = expand_runs(cfg, "t")
    runs = pd.DataFrame([spec.to_dict() | {"run_id": rid} for rid, spec in specs.items()])
    rng = np.random.default_rng(7)
    metrics, bounds, fewshot = [], [], []
    for _, run in runs.iterrows():
        knob, r = strength(run)
        jitter = 1 + 0.01 * run.seed + 0.001 * rng.random()
        final = {m: 10 * _effect(rng, rel[m], knob, r) * jitter
                 for m in ("gc", "geometric_collapse", "nc")}  # fmt: skip
        common = {"run_id": run.run_id, "dataset": "data", "task": "source", "seed": run.seed}
        common |= {k: run[k] for k in BASE} | {"gc_estimator": "exact", "metric_status": "ok"}
        for t in STEPS:
            late = 1 - t / STEPS[-1]
            time_nc = _effect(rng, rel["nc_time"], "weight_decay", -1) ** late  # falls for +1
            row = common | {"step": t, "split": "train", "accuracy": 1.0 if t else 0.2}
            row |= {"gc": final["gc"] * (1 + late), "nc": final["nc"] * time_nc}
            row |= {"geometric_collapse": final["geometric_collapse"] * (1 + late)}
            metrics += [row, row | {"split": "test", "accuracy": 0.8 + 0.001 * rng.random()}]
            rhs = {1: 0.5, -1: 5.0, 0: float(np.exp(rng.standard_normal()))}[rel["vacuous"]]
            lhs = 0.3 + 0.1 * late
            rhs *= {1: 1 + late, -1: 1 - 0.5 * late, 0: float(np.exp(rng.standard_normal()))}[
                rel["tracks"]
            ]
            bounds.append(common | {"step": t, "bound": "prop4.3", "lhs": lhs, "rhs": rhs})
            bounds.append(common | {"step": t, "bound": "prop4.1", "lhs": row["nc"],
                                    "rhs": 300 * row["geometric_collapse"], "holds": True,
                                    "c_method": "ritz_polynomial", "c": 300.0})  # fmt: skip
        accuracy = 0.7 + 0.05 * np.log(_effect(rng, -rel["accuracy"], knob, r))
        fewshot.append(
            {"run_id": run.run_id, "status": "ok", "shot": 5, "classifier": "ncm"}
            | {k: run[k] for k in BASE} | {
             "source_gc": final["gc"], "accuracy": accuracy + 0.001 * rng.random(),
             "target_nc": _effect(rng, rel["target_nc"], knob, r) * jitter}  # fmt: skip
        )
    paths = {k: tmp / f"{k}.csv" for k in ("metrics", "runs", "plan", "bounds", "fewshot")}
    paths |= {"poincare": tmp / "poincare.csv", "gc_sampling": tmp / "gc_sampling.csv"}
    pd.DataFrame(metrics).to_csv(paths["metrics"], index=False)
    runs.assign(status="ok")[["run_id", "status"]].to_csv(paths["runs"], index=False)
    plan.to_csv(paths["plan"], index=False)
    for row in bounds:
        row.setdefault("c_method", "paper_nc_over_gcol")
    pd.DataFrame(bounds).to_csv(paths["bounds"], index=False)
    pd.DataFrame(fewshot).to_csv(paths["fewshot"], index=False)
    _poincare(paths["poincare"])
    _sampling(paths["gc_sampling"], rel["sampling"], rng)
    return {k: str(v) for k, v in paths.items()}


def _poincare(path: Path) -> None:
    row = {"dataset": "data", "class": "max", "method": "paper_nc_over_gcol", "estimate": 700.0}
    row |= {"c_unit_interval": 90.7, "c_pixel_255": 5.9e6, "checkpoints": "max over 63 ..."}
    pd.DataFrame([row]).to_csv(path, index=False)


def _sampling(path: Path, relation: int, rng: np.random.Generator) -> None:
    """Fig. 2's trials: relative errors of spread 0.002 (accurate), 0.3 (not) or 0.05 (the
    tolerance itself: no evidence either way), at levels costing a fraction of exact GC."""
    spread = {1: 0.002, -1: 0.3, 0: 0.05}[relation]
    rows = []
    for axis, levels in (("features", (0.25, 0.5, 1.0)), ("examples", (25, 100, 300))):
        for level in levels:
            whole = level == (1.0 if axis == "features" else 300)
            cost = 100 * (level if axis == "features" else level / 300)
            for trial in range(20):
                error = 0.0 if whole else spread * rng.standard_normal()
                rows.append({"axis": axis, "level": level, "trial": trial, "exact": 2.0,
                             "estimate": 2.0 * (1 + error), "vjps": cost, "jvps": 0})  # fmt: skip
    pd.DataFrame(rows).to_csv(path, index=False)
