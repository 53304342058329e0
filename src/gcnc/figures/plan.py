"""What to draw: the paper's figures and tables mapped onto a preset's studies.

- fig1_gc_collapse_nc: Fig. 1, LR/BS/L2 rows x GC, GCol, NC columns (metrics.csv)
- fig1_controls: Fig. 1's sweeps at the end of training under each training protocol (LR
  schedule, steps, model options), where the preset's studies on Fig. 1's dataset and
  architecture train in more than one way (metrics.csv)
- fig2_gc_sampling: Fig. 2, GC under example/Jacobian/feature sampling (gc_sampling.csv)
- fig3_bound: Fig. 3, Prop. 4.3 bound vs nearest-class-mean test error (bounds.csv)
- fig4_transfer: Fig. 4, source GC, target NC, few-shot accuracy (fewshot.csv)
- figA5_learning_curves: App. A.5, training and test accuracy along training (metrics.csv)
- figA5_<study>: App. A.5, other datasets and architectures (metrics.csv); ours where the
  paper has no such study (synthetic data)
- figA22_gc_regularisation: App. A.5.6 (p. 22), explicit GC regularisation (metrics.csv)
- figA5_transfer_<study>: App. A.5.5, other transfer settings (fewshot.csv); ours likewise
- fig_li_finetune[_<study>]: Li et al.'s transfer modes, target and source NC1 (finetune.csv)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcnc.config import KNOBS, study_runs
from gcnc.figures.names import SYNTHETIC_KINDS, dataset_name, setting_name
from gcnc.plan import budget_text, protocol_of, run_plan

FIG1_KNOBS = ("lr", "batch_size", "weight_decay")  # the rows of Fig. 1
SECTIONS = {  # report grouping: the paper section each kind of figure belongs to
    "sweep": "Sec. 4 - GC controls neural collapse",
    "controls": "Sec. 4 - GC controls neural collapse",
    "learning_curves": "Sec. 4 - GC controls neural collapse",
    "gc_sampling": "Sec. 4 - estimating GC (Prop. 4.2)",
    "bound": "Sec. 4 - generalisation bound (Prop. 4.3)",
    "transfer": "Sec. 5 - transfer learning (Prop. 5.1)",
    "finetune": "Li et al. - fine-tuning and neural collapse",
}


def _study(config: dict, preset: str, name: str, runs_plan: pd.DataFrame) -> dict[str, Any]:
    """A study's entry: its runs, and the sweep rows they belong to (from the run plan)."""
    s = config["presets"][preset]["studies"][name]
    knobs = [k for k in KNOBS if s.get("sweep", {}).get(k)]
    runs = [r.to_dict() | {"run_id": r.run_id} for r in study_runs(config, preset, name)]
    rows = runs_plan[(runs_plan.study == name) & runs_plan.knob.notna()]
    return {
        "study": name,
        "base": s["base"],
        "knobs": knobs,
        "runs": runs,
        "sweep": rows[["run_id", "knob"]].to_dict("records"),
        "dataset": s["dataset"],
        "arch": s["arch"],
    }


def _controls(config: dict, preset: str, runs_plan: pd.DataFrame) -> dict | None:
    """The controlled experiments on Fig. 1's sweeps: every study sweeping one of Fig. 1's knobs
    (LR, batch size, L2) on Fig. 1's dataset, architecture and task, when they differ in how
    they train (LR schedule, budget, coupled LR, model options: their comparison groups,
    :func:`gcnc.plan.protocol_of`); else None. A run shared by two protocols is in both."""
    pre = config["presets"][preset]
    fig1 = pre["studies"]["fig1"]
    same = [
        name
        for name, s in pre["studies"].items()
        if set(s.get("sweep", {})) & set(FIG1_KNOBS)
        and (s["dataset"], s["arch"], s.get("task", "full"))
        == (fig1["dataset"], fig1["arch"], fig1.get("task", "full"))
    ]
    runs = {
        r.run_id: r.to_dict() | {"run_id": r.run_id}
        for n in same
        for r in study_runs(config, preset, n)
    }
    rows = runs_plan[runs_plan.study.isin(same) & runs_plan.knob.notna()]
    rows = rows.assign(protocol=rows.group.map(protocol_of))
    rows = rows.drop_duplicates(["run_id", "knob", "protocol"])
    protocols = list(dict.fromkeys(rows.protocol))
    if len(protocols) < 2:
        return None
    return {
        "studies": same,
        "protocols": protocols,
        "knobs": [k for k in FIG1_KNOBS if k in set(rows.knob)],
        "sweep": rows[["run_id", "knob", "protocol"]].to_dict("records"),
        "runs": list(runs.values()),
        "dataset": fig1["dataset"],
        "arch": fig1["arch"],
    }


def _thousands(text: str) -> str:
    """'1500 steps' -> '1,500 steps'."""
    amount, _, unit = text.partition(" ")
    return f"{int(amount):,} {unit}" if amount.isdigit() else text


def _estimator(metrics: dict[str, Any]) -> str:
    """How the preset measures GC along training: 'exact GC', or 'GC from 4 Hutchinson probes
    per example, exact at the last step'."""
    if metrics["gc_estimator"] == "exact":
        return "exact GC"
    probes = metrics["gc_probes"]
    text = f"GC from {probes} Hutchinson probe{'' if probes == 1 else 's'} per example"
    return text + (", exact at the last step" if metrics.get("endpoint_gc_estimator") == "exact"
                   else "")  # fmt: skip


def _here(config: dict, preset: str, studies: list[str], *extra: str, runs: bool = True) -> str:
    """What ran here, in words: network and data, budget, schedule, then (``runs``) logging,
    seeds and the GC estimator of one or more studies, then ``extra``."""
    pre = config["presets"][preset]
    specs = [r for name in studies for r in study_runs(config, preset, name)]
    first = pre["studies"][studies[0]]
    data = config["datasets"][first["dataset"]]
    setting = setting_name(first["dataset"], first["arch"], first.get("model"))
    if data.get("train_per_class"):
        setting += f" ({data['train_per_class']:,} training images per class)"
    budgets = ", ".join(_thousands(b) for b in dict.fromkeys(budget_text(r) for r in specs))
    schedules = " and ".join(dict.fromkeys(r.lr_schedule for r in specs))
    logs = sorted({r.log_interval(pre["training"]) for r in specs})
    every = "every " + (f"{logs[0]:,}" if len(logs) == 1 else f"{logs[0]:,}-{logs[-1]:,}")
    seeds = sorted({r.seed for r in specs})
    parts = [setting, budgets, f"{schedules} learning-rate schedule"]
    if runs:
        seeds_text = f"{len(seeds)} seed" + ("" if len(seeds) == 1 else "s")
        parts += [f"metrics {every} steps", seeds_text, _estimator(pre["metrics"])]
    parts += extra
    return ", ".join(p for p in parts if p)


def _paper(config: dict, study: str, *extra: str) -> str | None:
    """What the paper ran for a study: the ``paper`` preset's network and data (the paper's
    own; its budgets and seeds are ours), then ``extra``; None where it has no such study."""
    s = config["presets"].get("paper", {}).get("studies", {}).get(study)
    if s is None:
        return None
    return ", ".join([setting_name(s["dataset"], s["arch"], s.get("model")), *extra])


def _analogue(label: str, paper: str | None, here: str) -> str:
    """'Analogue of Fig. 1 (paper: VGG-13 on CIFAR-10; here: ...).'"""
    return f"Analogue of {label} (" + (f"paper: {paper}; " if paper else "") + f"here: {here})."


def _ours(after: str, here: str, synthetic: bool) -> str:
    """'Our study on synthetic data, after Fig. 1 (not in the paper; here: ...).'"""
    data = " on synthetic data" if synthetic else ""
    return f"Our study{data}, after {after} (not in the paper; here: {here})."


FIG1_TEXT = (
    "Embedding GC, geometric collapse (Eq. 7) and NC (average CDNV) on training embeddings "
    "along training, from the first log after initialisation (step 0 not drawn); each row "
    "varies one hyper-parameter, light = weak, dark = strong regularisation. The paper expects "
    "all three lower with larger learning rate, smaller batch and larger L2."
)


def figure_plan(
    config: dict, preset: str, runs_plan: pd.DataFrame | None = None
) -> dict[str, dict[str, Any]]:
    """Figure name -> what to draw (kind, study, runs and sweep rows, paper figure, caption);
    ``runs_plan`` is the preset's :func:`gcnc.plan.run_plan` (computed when not given).

    Captions read "Analogue of Fig. N (paper: what the paper ran; here: what ran here)" and
    then what is drawn; studies the paper has not (synthetic data, controls) say they are ours.
    The figure's renderer adds what its data show."""
    pre = config["presets"][preset]
    studies = pre["studies"]
    kinds = {name: config["datasets"][s["dataset"]]["kind"] for name, s in studies.items()}
    runs_plan = run_plan(config, preset) if runs_plan is None else runs_plan
    plan: dict[str, dict[str, Any]] = {}

    def add(name: str, kind: str, study: str | None, paper: str, caption: str) -> None:
        section = SECTIONS[kind]
        entry = {"name": name, "kind": kind, "paper": paper, "caption": caption, "section": section}
        if study is not None:
            entry.update(_study(config, preset, study, runs_plan))
        plan[name] = entry

    add(
        "fig1_gc_collapse_nc",
        "sweep",
        "fig1",
        "Fig. 1",
        _analogue("Fig. 1", _paper(config, "fig1"), _here(config, preset, ["fig1"]))
        + " "
        + FIG1_TEXT,
    )
    controls = _controls(config, preset, runs_plan)
    if controls is not None:
        add(
            "fig1_controls",
            "controls",
            None,
            "ours (after Fig. 1)",
            "Our controlled experiments on the sweeps of Fig. 1 (not in the paper, which states "
            f"no training protocol; here: {_here(config, preset, controls['studies'])}). "
            "Embedding GC, NC and geometric collapse on training embeddings, and training "
            "accuracy, at the last step against each knob, stronger regularisation to the "
            "right, one line per training protocol (learning-rate schedule, budget, model "
            "options). The paper expects GC, geometric collapse and NC to fall to the right.",
        )
        plan["fig1_controls"].update(controls)
    add(
        "figA5_learning_curves",
        "learning_curves",
        "fig1",
        "App. A.5 (learning curves)",
        _analogue(
            "the learning curves of App. A.5",
            _paper(config, "fig1"),
            _here(config, preset, ["fig1"]),
        )
        + " Training and test accuracy along training for the runs of Fig. 1, from the first "
        "log after initialisation; light = weak, dark = strong regularisation.",
    )
    for name, s in studies.items():
        task = s.get("task", "full")
        transfer_study = name.startswith("appendix_transfer_")
        synthetic = kinds[name] in SYNTHETIC_KINDS
        paper = _paper(config, name)
        here = _here(config, preset, [name])
        if name.startswith("appendix_") and not transfer_study and s.get("sweep"):
            ours = paper is None
            add(
                f"figA5_{name.removeprefix('appendix_')}",
                "sweep",
                name,
                "ours (after Fig. 1)" if ours else "App. A.5",
                (_ours("Fig. 1", here, synthetic) if ours else _analogue("App. A.5", paper, here))
                + " "
                + FIG1_TEXT,
            )
        if name.startswith("fig4_"):  # another class split for Fig. 4
            add(
                f"fig4_transfer_{name.removeprefix('fig4_')}",
                "transfer",
                name,
                "Fig. 4 (another class split)",
                _analogue("Fig. 4", _paper(config, "fig4", *FIG4_PAPER), here + _fewshot(pre))
                + f" As Fig. 4 with another class split of {dataset_name(s['dataset'])}. "
                + FIG4_TEXT,
            )
        if name.startswith("appendix_") and task == "source":
            ours = paper is None
            add(
                f"figA5_transfer_{name.removeprefix('appendix_transfer_').removeprefix('appendix_')}",
                "transfer",
                name,
                "ours (after Fig. 4)" if ours else "App. A.5.5",
                (
                    _ours("Fig. 4", here + _fewshot(pre), synthetic)
                    if ours
                    else _analogue("App. A.5.5", paper, here + _fewshot(pre))
                )
                + " "
                + FIG4_TEXT,
            )
    if "gc_regularisation" in studies:
        add(
            "figA22_gc_regularisation",
            "sweep",
            "gc_regularisation",
            "App. A.5.6 (p. 22)",
            _analogue(
                "App. A.5.6 (p. 22)",
                _paper(config, "gc_regularisation", "GC penalty weights 1e-7 to 1e-4"),
                _here(config, preset, ["gc_regularisation"]),
            )
            + " Explicit GC regularisation: training-set GC, geometric collapse and NC along "
            "training, from the first log after initialisation; light = no or weak, dark = "
            "strong penalty. The paper expects all three lower with a larger penalty.",
        )
    sampling = pre["gc_sampling"]
    paper_sampling = config["presets"].get("paper", {}).get("gc_sampling")
    add(
        "fig2_gc_sampling",
        "gc_sampling",
        sampling["study"],
        "Fig. 2",
        _analogue(
            "Fig. 2",
            paper_sampling
            and _paper(config, paper_sampling["study"], f"{paper_sampling['trials']} trials"),
            _here(
                config,
                preset,
                [sampling["study"]],
                f"one trained model, {sampling['trials']} trials",
                runs=False,
            ),
        )
        + " Empirical GC under sampling of examples, Jacobian entries and embedding features "
        "(and Hutchinson probes), mean \u00b1 sd over trials, against the exact GC on the "
        "sampled pool (dotted) and on held-out training examples (dashed; band: its standard "
        "error); all top panels share one y-range. Below: the error against the held-out "
        "reference at each estimate's cost (seconds, Jacobian-vector products).",
    )
    add(
        "fig3_bound",
        "bound",
        "fig3",
        "Fig. 3",
        _analogue("Fig. 3", _paper(config, "fig3", "5 seeds"), _here(config, preset, ["fig3"]))
        + " Prop. 4.3: the nearest-class-mean test error (left-hand side) and the GC bound "
        "(right-hand side, L-term omitted) along training, one bound per estimate of the "
        "Poincare constant c; a bound above 1 says nothing.",
    )
    if "fig4" in studies:
        add(
            "fig4_transfer",
            "transfer",
            "fig4",
            "Fig. 4",
            _analogue(
                "Fig. 4",
                _paper(config, "fig4", *FIG4_PAPER),
                _here(config, preset, ["fig4"]) + _fewshot(pre),
            )
            + " "
            + FIG4_TEXT,
        )
    finetune = pre.get("finetune")
    if finetune:
        sources = [n for n, s in studies.items() if s.get("task", "full") == "source"]
        paper_ft = config["presets"].get("paper", {}).get("finetune", {}).get("studies", [])
        theirs = " and ".join(p for p in (_paper(config, n) for n in paper_ft) if p) or None
        for i, name in enumerate(finetune.get("studies", sources)):
            add(
                "fig_li_finetune" + ("" if i == 0 else f"_{name.removeprefix('appendix_')}"),
                "finetune",
                name,
                "Li et al. (Table 2, Fig. 11)",
                "Our extension, after Li et al.'s Table 2 and Fig. 11 ("
                + (f"Li et al.: {theirs}; " if theirs else "")
                + f"here: {_here(config, preset, [name])}; tuned on the target classes for "
                f"{finetune['steps']:,} SGD steps). Transfer modes of Li et al. from the "
                "source runs to the target classes: accuracy and target NC1 per mode and "
                "unit, source NC1 against accuracy (higher expected to help up to a "
                "threshold), target NC1 against accuracy (lower expected to help).",
            )
    return plan


FIG4_PAPER = ("pretrained on the source classes", "5-way 5-shot")
FIG4_TEXT = (
    "Source (pretraining) GC, target-class NC and few-shot accuracy for each hyper-parameter "
    "value, weak to strong regularisation from left to right; hollow marks: each seed; filled "
    "marks and bars: mean \u00b1 1 sd over seeds. The paper expects lower source GC to give lower "
    "target NC and higher few-shot accuracy."
)


def _fewshot(pre: dict[str, Any]) -> str:
    """', pretrained on the source classes; 5-way 5-shot on held-out classes, 200 episodes'."""
    few = pre["fewshot"]
    shot = 5 if 5 in few["shots"] else max(few["shots"])
    return (
        f"; pretrained on the source classes, {few['ways'][0]}-way {shot}-shot on held-out "
        f"classes, {few['episodes']} episodes"
    )


def table_plan(config: dict, preset: str) -> dict[str, dict[str, Any]]:
    """Table name -> caption: the Poincare-constant, bound and terminal-phase tables."""
    return {
        "table_terminal_phase": {
            "name": "table_terminal_phase",
            "caption": "End of pretraining, per setting, mean over its seeds "
            "(gcnc.terminal.terminal_summary): the learning rate of the last SGD step, "
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
