"""What to draw: the paper's figures and tables mapped onto a preset's studies.

- fig1_gc_collapse_nc: Fig. 1, LR/BS/L2 rows x GC, GCol, NC columns (metrics.csv)
- fig1_controls: Fig. 1's sweeps at the end of training under each training protocol (LR
  schedule, steps, model options), where the preset's studies on Fig. 1's dataset and
  architecture train in more than one way (metrics.csv)
- fig2_gc_sampling: Fig. 2, GC under example/Jacobian/feature sampling (gc_sampling.csv)
- fig3_bound: Fig. 3, Prop. 4.3 bound vs nearest-class-mean test error (bounds.csv)
- fig4_transfer: Fig. 4, source GC, target NC, few-shot accuracy (fewshot.csv)
- figA5_learning_curves: App. A.5, test accuracy along training (metrics.csv)
- figA5_<study>: App. A.5, other datasets and architectures (metrics.csv)
- figA22_gc_regularisation: App. A.5.6 (p. 22), explicit GC regularisation (metrics.csv)
- figA5_transfer_<study>: App. A.5.5, other transfer settings (fewshot.csv)
- fig_li_finetune[_<study>]: Li et al.'s transfer modes, target and source NC1 (finetune.csv)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from gcnc.config import KNOBS, study_runs
from gcnc.plan import protocol_of, run_plan

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


def figure_plan(
    config: dict, preset: str, runs_plan: pd.DataFrame | None = None
) -> dict[str, dict[str, Any]]:
    """Figure name -> what to draw (kind, study, runs and sweep rows, paper figure, caption);
    ``runs_plan`` is the preset's :func:`gcnc.plan.run_plan` (computed when not given)."""
    studies = config["presets"][preset]["studies"]
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
        "Embedding GC, geometric collapse and NC on the training set along training; rows vary "
        "one hyper-parameter (lower GC expected with larger LR, smaller batch, larger L2).",
    )
    controls = _controls(config, preset, runs_plan)
    if controls is not None:
        add(
            "fig1_controls",
            "controls",
            None,
            "Fig. 1 (controlled experiments)",
            "The end of Fig. 1's sweeps under each training protocol (learning-rate schedule, "
            "steps, model options): embedding GC, NC and geometric collapse on training "
            "embeddings and training accuracy at the last step against each knob, stronger "
            "regularisation to the right.",
        )
        plan["fig1_controls"].update(controls)
    add(
        "figA5_learning_curves",
        "learning_curves",
        "fig1",
        "App. A.5 (learning curves)",
        "Test accuracy along training for the runs of Fig. 1.",
    )
    for name, s in studies.items():
        task = s.get("task", "full")
        transfer_study = name.startswith("appendix_transfer_")
        if name.startswith("appendix_") and not transfer_study and s.get("sweep"):
            add(
                f"figA5_{name.removeprefix('appendix_')}",
                "sweep",
                name,
                "App. A.5",
                f"As Fig. 1 for {s['arch']} on {s['dataset']}.",
            )
        if name.startswith("fig4_"):  # another class split for Fig. 4
            add(
                f"fig4_transfer_{name.removeprefix('fig4_')}",
                "transfer",
                name,
                "Fig. 4",
                f"As Fig. 4 with the class split of {s['dataset']}.",
            )
        if name.startswith("appendix_") and task == "source":
            add(
                f"figA5_transfer_{name.removeprefix('appendix_transfer_').removeprefix('appendix_')}",
                "transfer",
                name,
                "App. A.5.5",
                f"As Fig. 4 for {s['arch']} pretrained on the source classes of {s['dataset']}.",
            )
    if "gc_regularisation" in studies:
        add(
            "figA22_gc_regularisation",
            "sweep",
            "gc_regularisation",
            "App. A.5.6 (p. 22)",
            "Explicit GC regularisation: training-set GC, geometric collapse and NC "
            "along training.",
        )
    add(
        "fig2_gc_sampling",
        "gc_sampling",
        config["presets"][preset]["gc_sampling"]["study"],
        "Fig. 2",
        "Empirical GC under sampling of examples, Jacobian entries and embedding features (and "
        "Hutchinson probes), mean +- std over trials, against the exact GC on the sampled pool "
        "(dotted) and on held-out training examples (dashed); below, the error against the "
        "held-out reference at each estimate's cost (seconds, Jacobian-vector products).",
    )
    add(
        "fig3_bound",
        "bound",
        "fig3",
        "Fig. 3",
        "Prop. 4.3: nearest-class-mean test error (LHS) and the GC bound (RHS, L-term omitted) "
        "along training, mean +- std over seeds, for each estimate of the Poincare constant c.",
    )
    if "fig4" in studies:
        add(
            "fig4_transfer",
            "transfer",
            "fig4",
            "Fig. 4",
            "Transfer: source (pretraining) GC, target-class NC and few-shot accuracy (95% CI) "
            "for each hyper-parameter value; lower GC expected to give lower target NC and "
            "higher accuracy.",
        )
    finetune = config["presets"][preset].get("finetune")
    if finetune:
        sources = [n for n, s in studies.items() if s.get("task", "full") == "source"]
        for i, name in enumerate(finetune.get("studies", sources)):
            add(
                "fig_li_finetune" + ("" if i == 0 else f"_{name.removeprefix('appendix_')}"),
                "finetune",
                name,
                "Li et al. (Table 2, Fig. 11)",
                f"Transfer modes of Li et al. from the {name} runs "
                f"({_arch_on_dataset(studies, name)}) to the target classes: accuracy and "
                "target NC1 per mode and unit, source NC1 against accuracy (higher expected "
                "to help up to a threshold), target NC1 against accuracy (lower expected to "
                "help).",
            )
    return plan


def _arch_on_dataset(studies: dict[str, Any], name: str) -> str:
    """'<arch> on <dataset>' of a study."""
    return f"{studies[name]['arch']} on {studies[name]['dataset']}"


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
