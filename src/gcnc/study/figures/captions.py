"""The captions of the figures and tables: "Analogue of Fig. N (paper: what the paper ran;
here: what ran here)", then what is drawn; studies the paper has not (synthetic data, controls)
say they are ours. Each renderer adds what its data show."""

from __future__ import annotations

from typing import Any

from gcnc.study.figures.names import setting_name
from gcnc.study.grid import study_runs
from gcnc.study.plan import budget_text


def thousands(text: str) -> str:
    """'1500 steps' -> '1,500 steps'."""
    amount, _, unit = text.partition(" ")
    return f"{int(amount):,} {unit}" if amount.isdigit() else text


def estimator_text(metrics: dict[str, Any]) -> str:
    """How the preset measures GC along training: 'exact GC', or 'GC from 4 Hutchinson probes
    per example, exact at the last step'."""
    if metrics["gc_estimator"] == "exact":
        return "exact GC"
    probes = metrics["gc_probes"]
    text = f"GC from {probes} Hutchinson probe{'' if probes == 1 else 's'} per example"
    return text + (", exact at the last step" if metrics.get("endpoint_gc_estimator") == "exact"
                   else "")  # fmt: skip


def here(config: dict, preset: str, studies: list[str], *extra: str, runs: bool = True) -> str:
    """What ran here, in words: network and data, budget, schedule, then (``runs``) logging,
    seeds and the GC estimator of one or more studies, then ``extra``."""
    pre = config["presets"][preset]
    specs = [r for name in studies for r in study_runs(config, preset, name)]
    first = pre["studies"][studies[0]]
    data = config["datasets"][first["dataset"]]
    setting = setting_name(first["dataset"], first["arch"], first.get("model"))
    if data.get("train_per_class"):
        setting += f" ({data['train_per_class']:,} training images per class)"
    budgets = ", ".join(thousands(b) for b in dict.fromkeys(budget_text(r) for r in specs))
    schedules = " and ".join(dict.fromkeys(r.lr_schedule for r in specs))
    logs = sorted({r.log_interval(pre["training"]) for r in specs})
    every = "every " + (f"{logs[0]:,}" if len(logs) == 1 else f"{logs[0]:,}-{logs[-1]:,}")
    seeds = sorted({r.seed for r in specs})
    parts = [setting, budgets, f"{schedules} learning-rate schedule"]
    if runs:
        seeds_text = f"{len(seeds)} seed" + ("" if len(seeds) == 1 else "s")
        parts += [f"metrics {every} steps", seeds_text, estimator_text(pre["metrics"])]
    parts += extra
    return ", ".join(p for p in parts if p)


def paper_setting(config: dict, study: str, *extra: str) -> str | None:
    """What the paper ran for a study: the ``paper`` preset's network and data (the paper's
    own; its budgets and seeds are ours), then ``extra``; None where it has no such study."""
    s = config["presets"].get("paper", {}).get("studies", {}).get(study)
    if s is None:
        return None
    return ", ".join([setting_name(s["dataset"], s["arch"], s.get("model")), *extra])


def analogue(label: str, paper: str | None, here: str) -> str:
    """'Analogue of Fig. 1 (paper: VGG-13 on CIFAR-10; here: ...).'"""
    return f"Analogue of {label} (" + (f"paper: {paper}; " if paper else "") + f"here: {here})."


def ours(after: str, here: str, synthetic: bool) -> str:
    """'Our study on synthetic data, after Fig. 1 (not in the paper; here: ...).'"""
    data = " on synthetic data" if synthetic else ""
    return f"Our study{data}, after {after} (not in the paper; here: {here})."


FIG1_TEXT = (
    "Embedding GC, geometric collapse (Eq. 7) and NC (average CDNV) on training embeddings "
    "along training, from the first log after initialisation (step 0 not drawn); each row "
    "varies one hyper-parameter, light = weak, dark = strong regularisation. The paper expects "
    "all three lower with larger learning rate, smaller batch and larger L2."
)


FIG4_PAPER = ("pretrained on the source classes", "5-way 5-shot")
FIG4_TEXT = (
    "Source (pretraining) GC, target-class NC and few-shot accuracy for each hyper-parameter "
    "value, weak to strong regularisation from left to right; hollow marks: each seed; filled "
    "marks and bars: mean \u00b1 1 sd over seeds. The paper expects lower source GC to give lower "
    "target NC and higher few-shot accuracy."
)


def fewshot_text(pre: dict[str, Any]) -> str:
    """', pretrained on the source classes; 5-way 5-shot on held-out classes, 200 episodes'."""
    few = pre["fewshot"]
    shot = 5 if 5 in few["shots"] else max(few["shots"])
    return (
        f"; pretrained on the source classes, {few['ways'][0]}-way {shot}-shot on held-out "
        f"classes, {few['episodes']} episodes"
    )


CURVES_TEXT = (
    "Training and test accuracy along training for the runs of Fig. 1, from the first log "
    "after initialisation; light = weak, dark = strong regularisation."
)
PENALTY_TEXT = (
    "Explicit GC regularisation: training-set GC, geometric collapse and NC along training, from "
    "the first log after initialisation; light = no or weak, dark = strong penalty. The paper "
    "expects all three lower with a larger penalty."
)
SAMPLING_TEXT = (
    "Empirical GC under sampling of examples, Jacobian entries and embedding features (and "
    "Hutchinson probes), mean \u00b1 sd over trials, against the exact GC on the sampled pool "
    "(dotted) and on held-out training examples (dashed; band: its standard error); all top "
    "panels share one y-range. Below: the error against the held-out reference at each "
    "estimate's cost (seconds, Jacobian-vector products)."
)
BOUND_TEXT = (
    "Prop. 4.3: the nearest-class-mean test error (left-hand side) and the GC bound (right-hand "
    "side, L-term omitted) along training, one bound per estimate of the Poincare constant c; a "
    "bound above 1 says nothing."
)


def controls_caption(here: str) -> str:
    return (
        "Our controlled experiments on the sweeps of Fig. 1 (not in the paper, which states no "
        f"training protocol; here: {here}). Embedding GC, NC and geometric collapse on training "
        "embeddings, and training accuracy, at the last step against each knob, stronger "
        "regularisation to the right, one line per training protocol (learning-rate schedule, "
        "budget, coupled learning rate, model options). The paper expects GC, geometric collapse "
        "and NC to fall to the right."
    )


def finetune_caption(config: dict, preset: str, name: str) -> str:
    """Li et al.'s study from ``name``'s runs: what Li et al. ran (the paper preset's settings),
    what ran here, what is drawn."""
    pre = config["presets"][preset]
    paper_ft = config["presets"].get("paper", {}).get("finetune", {}).get("studies", [])
    theirs = " and ".join(p for p in (paper_setting(config, n) for n in paper_ft) if p) or None
    return (
        "Our extension, after Li et al.'s Table 2 and Fig. 11 ("
        + (f"Li et al.: {theirs}; " if theirs else "")
        + f"here: {here(config, preset, [name])}; tuned on the target classes for "
        f"{pre['finetune']['steps']:,} SGD steps). Transfer modes of Li et al. from the source "
        "runs to the target classes: accuracy and target NC1 per mode and unit, source NC1 "
        "against accuracy (higher expected to help up to a threshold), target NC1 against "
        "accuracy (lower expected to help)."
    )


def table_plan(config: dict, preset: str) -> dict[str, dict[str, Any]]:
    """Table name -> caption: the Poincare-constant, bound and terminal-phase tables."""
    return {
        "table_terminal_phase": {
            "name": "table_terminal_phase",
            "caption": "End of pretraining, per setting, mean over its seeds "
            "(gcnc.study.pretraining.terminal.terminal_summary): the learning rate of the last "
            "SGD step, "
            "training-set accuracy and loss, NC, GC, geometric collapse and the inverse "
            "class-mean distances (sum over class pairs of 1/d^2) on training embeddings at the "
            "last logged step, nc_last_ratio = NC at the last log / NC at the log before (1: NC "
            "has stopped falling), test accuracy; terminal_runs: runs at training accuracy "
            ">= 0.99.",
        },
        "table_poincare": {
            "name": "table_poincare",
            "caption": "Poincare-constant estimates (per class, max over classes, mixture) with "
            "the true value where known. kind: lower_bound = one-sided 95% lower confidence "
            "bound (`point` is the plain sample value); sample_ratio = a sample ratio whose "
            "population value is <= c, no confidence statement; restricted_estimate = Ritz "
            "over cubic polynomials in the top-4 principal components (<= c, not consistent).",
        },
        "table_bounds": {
            "name": "table_bounds",
            "caption": "Propositions 4.1, 4.3 and 5.1: "
            "how often each bound holds, per choice of c, and the median RHS/LHS.",
        },
    }
