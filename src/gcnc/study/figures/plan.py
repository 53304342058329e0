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

import gcnc.study.figures.captions as cap
from gcnc.study.figures.names import SYNTHETIC_KINDS, dataset_name
from gcnc.study.grid import KNOBS, study_runs
from gcnc.study.plan import protocol_of, run_plan

FIG1_KNOBS = ("lr", "batch_size", "weight_decay")  # the rows of Fig. 1


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
    :func:`gcnc.study.plan.protocol_of`); else None. A run shared by two protocols is in both."""
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


Entry = tuple[str, str, str | None, str, str]  # name, kind, study, paper label, caption


def _fig1(config: dict, preset: str) -> list[Entry]:
    """Fig. 1 and its learning curves (App. A.5)."""
    here = cap.here(config, preset, ["fig1"])
    paper = cap.paper_setting(config, "fig1")
    return [
        ("fig1_gc_collapse_nc", "sweep", "fig1", "Fig. 1",
         cap.analogue("Fig. 1", paper, here) + " " + cap.FIG1_TEXT),
        ("figA5_learning_curves", "learning_curves", "fig1", "App. A.5 (learning curves)",
         cap.analogue("the learning curves of App. A.5", paper, here) + " " + cap.CURVES_TEXT),
    ]  # fmt: skip


def _appendix(config: dict, preset: str, name: str) -> list[Entry]:
    """A study's appendix figures: its sweep (App. A.5, or ours after Fig. 1 for data the paper
    has not), its transfer (App. A.5.5, or ours after Fig. 4), Fig. 4 on another class split."""
    pre = config["presets"][preset]
    s = pre["studies"][name]
    synthetic = config["datasets"][s["dataset"]]["kind"] in SYNTHETIC_KINDS
    paper, here = cap.paper_setting(config, name), cap.here(config, preset, [name])
    fewshot = here + cap.fewshot_text(pre)
    out: list[Entry] = []
    if name.startswith("appendix_") and not name.startswith("appendix_transfer_") and s.get(
        "sweep"
    ):
        text = cap.ours("Fig. 1", here, synthetic) if paper is None else cap.analogue(
            "App. A.5", paper, here)  # fmt: skip
        label = "ours (after Fig. 1)" if paper is None else "App. A.5"
        out.append((f"figA5_{name.removeprefix('appendix_')}", "sweep", name, label,
                    text + " " + cap.FIG1_TEXT))  # fmt: skip
    if name.startswith("fig4_"):  # another class split for Fig. 4
        text = cap.analogue("Fig. 4", cap.paper_setting(config, "fig4", *cap.FIG4_PAPER), fewshot)
        text += f" As Fig. 4 with another class split of {dataset_name(s['dataset'])}. "
        out.append((f"fig4_transfer_{name.removeprefix('fig4_')}", "transfer", name,
                    "Fig. 4 (another class split)", text + cap.FIG4_TEXT))  # fmt: skip
    if name.startswith("appendix_") and s.get("task", "full") == "source":
        short = name.removeprefix("appendix_transfer_").removeprefix("appendix_")
        text = cap.ours("Fig. 4", fewshot, synthetic) if paper is None else cap.analogue(
            "App. A.5.5", paper, fewshot)  # fmt: skip
        label = "ours (after Fig. 4)" if paper is None else "App. A.5.5"
        out.append((f"figA5_transfer_{short}", "transfer", name, label,
                    text + " " + cap.FIG4_TEXT))  # fmt: skip
    return out


def _penalty_and_theory(config: dict, preset: str) -> list[Entry]:
    """App. A.5.6 (the GC penalty), Fig. 2 (GC under sampling) and Fig. 3 (Prop. 4.3)."""
    pre = config["presets"][preset]
    out: list[Entry] = []
    if "gc_regularisation" in pre["studies"]:
        paper = cap.paper_setting(config, "gc_regularisation", "GC penalty weights 1e-7 to 1e-4")
        here = cap.here(config, preset, ["gc_regularisation"])
        out.append(("figA22_gc_regularisation", "sweep", "gc_regularisation",
                    "App. A.5.6 (p. 22)", cap.analogue("App. A.5.6 (p. 22)", paper, here)
                    + " " + cap.PENALTY_TEXT))  # fmt: skip
    sampling = pre["gc_sampling"]
    theirs = config["presets"].get("paper", {}).get("gc_sampling")
    paper = theirs and cap.paper_setting(config, theirs["study"], f"{theirs['trials']} trials")
    here = cap.here(config, preset, [sampling["study"]],
                    f"one trained model, {sampling['trials']} trials", runs=False)  # fmt: skip
    out.append(("fig2_gc_sampling", "gc_sampling", sampling["study"], "Fig. 2",
                cap.analogue("Fig. 2", paper, here) + " " + cap.SAMPLING_TEXT))  # fmt: skip
    paper, here = cap.paper_setting(config, "fig3", "5 seeds"), cap.here(config, preset, ["fig3"])
    out.append(("fig3_bound", "bound", "fig3", "Fig. 3",
                cap.analogue("Fig. 3", paper, here) + " " + cap.BOUND_TEXT))  # fmt: skip
    return out


def _transfer(config: dict, preset: str) -> list[Entry]:
    """Fig. 4, and Li et al.'s fine-tuning study per study it names (our extension)."""
    pre = config["presets"][preset]
    studies = pre["studies"]
    out: list[Entry] = []
    if "fig4" in studies:
        paper = cap.paper_setting(config, "fig4", *cap.FIG4_PAPER)
        here = cap.here(config, preset, ["fig4"]) + cap.fewshot_text(pre)
        out.append(("fig4_transfer", "transfer", "fig4", "Fig. 4",
                    cap.analogue("Fig. 4", paper, here) + " " + cap.FIG4_TEXT))  # fmt: skip
    finetune = pre.get("finetune")
    if finetune:
        sources = [n for n, s in studies.items() if s.get("task", "full") == "source"]
        for i, name in enumerate(finetune.get("studies", sources)):
            figure = "fig_li_finetune" + ("" if i == 0 else f"_{name.removeprefix('appendix_')}")
            out.append((figure, "finetune", name, "Li et al. (Table 2, Fig. 11)",
                        cap.finetune_caption(config, preset, name)))  # fmt: skip
    return out


def figure_plan(
    config: dict, preset: str, runs_plan: pd.DataFrame | None = None
) -> dict[str, dict[str, Any]]:
    """Figure name -> what to draw (kind, study, runs and sweep rows, paper figure, caption);
    ``runs_plan`` is the preset's :func:`gcnc.study.plan.run_plan` (computed when not given).
    Captions: :mod:`gcnc.study.figures.captions`."""
    runs_plan = run_plan(config, preset) if runs_plan is None else runs_plan
    entries = _fig1(config, preset)
    for name in config["presets"][preset]["studies"]:
        entries += _appendix(config, preset, name)
    entries += _penalty_and_theory(config, preset) + _transfer(config, preset)
    plan: dict[str, dict[str, Any]] = {}
    for name, kind, study, paper, caption in entries:
        plan[name] = {"name": name, "kind": kind, "paper": paper, "caption": caption}
        if study is not None:
            plan[name].update(_study(config, preset, study, runs_plan))
    controls = _controls(config, preset, runs_plan)
    if controls is not None:
        here = cap.here(config, preset, controls["studies"])
        plan["fig1_controls"] = controls | {"name": "fig1_controls", "kind": "controls",
                                            "paper": "ours (after Fig. 1)",
                                            "caption": cap.controls_caption(here)}  # fmt: skip
    return plan
