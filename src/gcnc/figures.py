"""Every figure and table of the paper, rendered from the preset's tables (seaborn/matplotlib).

Each figure is written as PDF and PNG together with a CSV of exactly the plotted data. The plan
(:func:`figure_plan`) maps the paper's figures onto the preset's studies:

- fig1_gc_collapse_nc: Fig. 1, LR/BS/L2 rows x GC, GCol, NC columns (metrics.csv)
- fig2_gc_sampling: Fig. 2, GC under example/Jacobian/feature sampling (gc_sampling.csv)
- fig3_bound: Fig. 3, Prop. 4.3 bound vs nearest-class-mean test error (bounds.csv)
- fig4_transfer: Fig. 4, source GC, target NC, few-shot accuracy (fewshot.csv)
- figA5_learning_curves: App. A.5, test accuracy along training (metrics.csv)
- figA5_<study>: App. A.5, other datasets and architectures (metrics.csv)
- figA22_gc_regularisation: App. A.5.6 (p. 22), explicit GC regularisation (metrics.csv)
- figA5_transfer_<study>: App. A.5.5, other transfer settings (fewshot.csv)
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from gcnc.config import KNOBS, study_runs  # noqa: E402

KNOB_LABEL = {
    "lr": "learning rate",
    "batch_size": "batch size",
    "weight_decay": "L2 (weight decay)",
    "gc_reg": "GC regularisation",
}
KNOB_DIRECTION = {
    "lr": "increased learning rate",
    "batch_size": "decreased batch size",
    "weight_decay": "increased L2",
    "gc_reg": "increased GC regularisation",
}
METRIC_LABEL = {
    "gc": "embedding GC",
    "geometric_collapse": "geometric collapse (Eq. 7)",
    "nc": "neural collapse (avg CDNV)",
    "accuracy": "test accuracy",
}
PALETTE = "colorblind"
SECTIONS = {  # report grouping: the paper section each kind of figure belongs to
    "sweep": "Sec. 4 - GC controls neural collapse",
    "learning_curves": "Sec. 4 - GC controls neural collapse",
    "gc_sampling": "Sec. 4 - estimating GC (Prop. 4.2)",
    "bound": "Sec. 4 - generalisation bound (Prop. 4.3)",
    "transfer": "Sec. 5 - transfer learning (Prop. 5.1)",
}


def _study(config: dict, preset: str, name: str) -> dict[str, Any]:
    s = config["presets"][preset]["studies"][name]
    knobs = [k for k in KNOBS if s.get("sweep", {}).get(k)]
    runs = [r.to_dict() | {"run_id": r.run_id} for r in study_runs(config, preset, name)]
    return {
        "study": name,
        "base": s["base"],
        "knobs": knobs,
        "runs": runs,
        "dataset": s["dataset"],
        "arch": s["arch"],
    }


def figure_plan(config: dict, preset: str) -> dict[str, dict[str, Any]]:
    """Figure name -> what to draw (kind, study, runs, paper figure, caption)."""
    studies = config["presets"][preset]["studies"]
    plan: dict[str, dict[str, Any]] = {}

    def add(name: str, kind: str, study: str | None, paper: str, caption: str) -> None:
        section = SECTIONS[kind]
        entry = {"name": name, "kind": kind, "paper": paper, "caption": caption, "section": section}
        if study is not None:
            entry.update(_study(config, preset, study))
        plan[name] = entry

    add(
        "fig1_gc_collapse_nc",
        "sweep",
        "fig1",
        "Fig. 1",
        "Embedding GC, geometric collapse and NC on the training set along training; rows vary "
        "one hyper-parameter (lower GC expected with larger LR, smaller batch, larger L2).",
    )
    add(
        "figA5_learning_curves",
        "learning_curves",
        "fig1",
        "App. A.5 (learning curves)",
        "Test accuracy along training for the runs of Fig. 1.",
    )
    for name, s in studies.items():
        task = s.get("task", "full")
        if name.startswith("appendix_") and task == "full" and s.get("sweep"):
            add(
                f"figA5_{name.removeprefix('appendix_')}",
                "sweep",
                name,
                "App. A.5",
                f"As Fig. 1 for {s['arch']} on {s['dataset']}.",
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
        "Empirical GC under sampling of examples, Jacobian entries and embedding "
        "features (and Hutchinson probes at equal cost); mean +- std over trials, exact GC dotted.",
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
    return plan


def table_plan(config: dict, preset: str) -> dict[str, dict[str, Any]]:
    return {
        "table_poincare": {
            "name": "table_poincare",
            "caption": "Poincare-constant estimates "
            "(per class, max over classes, mixture) with the true value where known.",
        },
        "table_bounds": {
            "name": "table_bounds",
            "caption": "Propositions 4.1, 4.3 and 5.1: "
            "how often each bound holds, per choice of c, and the median RHS/LHS.",
        },
    }


def _knob_rows(plan: dict[str, Any], table: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` (with run_id) tagged by the sweep row (knob) and value they belong to."""
    base = plan["base"]
    parts = []
    for knob in plan["knobs"]:
        ids = [
            r["run_id"] for r in plan["runs"] if all(r[k] == base[k] for k in KNOBS if k != knob)
        ]
        sub = table[table.run_id.isin(ids)].copy()
        sub["knob"] = knob
        sub["value"] = sub[knob].astype(int) if knob == "batch_size" else sub[knob]
        parts.append(sub)
    return pd.concat(parts, ignore_index=True) if parts else table.iloc[:0]


def _save(fig, pdf: str, png: str, data: pd.DataFrame, csv: str) -> None:
    fig.savefig(pdf, bbox_inches="tight")
    fig.savefig(png, bbox_inches="tight", dpi=150)
    plt.close(fig)
    data.to_csv(csv, index=False)


def _ok(metrics: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    return metrics[metrics.run_id.isin(set(runs.loc[runs.status == "ok", "run_id"]))]


def _label_row(ax, knob: str) -> None:
    """Name a figure row by the direction of its sweep, left of its first panel."""
    ax.annotate(
        KNOB_DIRECTION[knob],
        xy=(-0.45, 0.5),
        xycoords="axes fraction",
        rotation=90,
        va="center",
        fontsize=9,
    )


def _grid(data: pd.DataFrame, knobs: list[str], metrics: list[str], log: set[str]):
    fig, axes = plt.subplots(
        len(knobs),
        len(metrics),
        figsize=(3.3 * len(metrics), 2.6 * len(knobs)),
        squeeze=False,
        constrained_layout=True,
    )
    for i, knob in enumerate(knobs):
        sub = data[data.knob == knob]
        for j, metric in enumerate(metrics):
            ax = axes[i, j]
            sns.lineplot(
                data=sub,
                x="step",
                y=metric,
                hue="value",
                palette=PALETTE,
                errorbar="sd",
                ax=ax,
                legend=j == len(metrics) - 1,
            )
            if metric in log:
                ax.set_yscale("log")
            ax.set_xlabel("training step")
            ax.set_ylabel(METRIC_LABEL.get(metric, metric))
            if i == 0:
                ax.set_title(METRIC_LABEL.get(metric, metric))
            if j == len(metrics) - 1 and ax.get_legend() is not None:
                ax.legend(title=KNOB_LABEL[knob], fontsize=7, title_fontsize=7)
        _label_row(axes[i, 0], knob)
    return fig


def render_sweep(
    plan, inputs, pdf, png, csv, metrics=("gc", "geometric_collapse", "nc"), split="train"
) -> None:
    table = _ok(pd.read_csv(inputs[0]), pd.read_csv(inputs[1]))
    data = _knob_rows(plan, table[table.split == split])
    cols = ["knob", "value", "run_id", "seed", "step", *metrics]
    _save(
        _grid(data, plan["knobs"], list(metrics), {"gc", "geometric_collapse", "nc"}),
        pdf,
        png,
        data[cols],
        csv,
    )


def render_gc_sampling(plan, inputs, pdf, png, csv) -> None:
    data = pd.read_csv(inputs[0])
    axes_order = ["examples", "jacobian_entries", "features", "hutchinson"]
    xlabel = {
        "examples": "examples in the batch",
        "jacobian_entries": "fraction of Jacobian entries",
        "features": "fraction of embedding features",
        "hutchinson": "probes / embedding dim",
    }
    fig, axes = plt.subplots(1, 4, figsize=(13, 2.8), constrained_layout=True)
    for ax, axis in zip(axes, axes_order, strict=True):
        sub = data[data.axis == axis]
        sns.lineplot(
            data=sub,
            x="level",
            y="estimate",
            errorbar="sd",
            marker="o",
            ax=ax,
            color=sns.color_palette(PALETTE)[0],
        )
        ax.axhline(sub.exact.iloc[0], ls=":", color="k", label="exact GC")
        ax.set_xscale("log")
        ax.set_xlabel(xlabel[axis])
        ax.set_ylabel("GC estimate")
        ax.legend(fontsize=7)
    _save(fig, pdf, png, data, csv)


def render_bound(plan, inputs, pdf, png, csv) -> None:
    ids = {r["run_id"] for r in plan["runs"]}
    data = pd.read_csv(inputs[0])
    data = data[(data.bound == "prop4.3") & data.run_id.isin(ids)]
    long = pd.concat(
        [
            data.assign(curve="RHS, c = " + data.c_method, value=data.rhs),
            data[data.c_method == data.c_method.iloc[0]].assign(
                curve="LHS: NCM test error", value=lambda d: d.lhs
            ),
        ]
    )
    fig, ax = plt.subplots(figsize=(5.5, 3.5), constrained_layout=True)
    sns.lineplot(data=long, x="step", y="value", hue="curve", errorbar="sd", palette=PALETTE, ax=ax)
    ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("error / bound")
    ax.axhline(1.0, color="grey", lw=0.5)
    ax.legend(fontsize=7)
    _save(fig, pdf, png, long[["run_id", "seed", "step", "curve", "value", "c"]], csv)


def render_transfer(plan, inputs, pdf, png, csv) -> None:
    table = pd.read_csv(inputs[0])
    table = table[table.status == "ok"]
    data = _knob_rows(plan, table)
    shots = sorted(data["shot"].unique())
    shot = 5 if 5 in shots else shots[-1]
    cols = ["source_gc", "target_nc", "accuracy"]
    fig, axes = plt.subplots(
        len(plan["knobs"]),
        3,
        figsize=(10, 2.6 * len(plan["knobs"])),
        squeeze=False,
        constrained_layout=True,
    )
    for i, knob in enumerate(plan["knobs"]):
        sub = data[(data.knob == knob) & (data["shot"] == shot)]
        for j, col in enumerate(cols):
            ax = axes[i, j]
            if col == "accuracy":
                for k, (clf, g) in enumerate(sub.groupby("classifier")):
                    g = g.groupby("value", as_index=False).agg(
                        accuracy=("accuracy", "mean"), ci95=("ci95", "mean")
                    )
                    ax.errorbar(
                        g.value.astype(str),
                        g.accuracy,
                        yerr=g.ci95,
                        marker="o",
                        capsize=3,
                        label=clf,
                        color=sns.color_palette(PALETTE)[k],
                    )
                ax.legend(fontsize=7)
                ax.set_ylabel(f"{shot}-shot accuracy")
            else:
                g = sub.drop_duplicates("run_id")
                sns.pointplot(
                    data=g,
                    x="value",
                    y=col,
                    errorbar="sd",
                    ax=ax,
                    color=sns.color_palette(PALETTE)[j],
                    native_scale=False,
                )
                ax.set_yscale("log")
                ax.set_ylabel(
                    {"source_gc": "source (pretraining) GC", "target_nc": "target NC"}[col]
                )
            ax.set_xlabel(KNOB_LABEL[knob])
        _label_row(axes[i, 0], knob)
    keep = [
        "knob",
        "value",
        "run_id",
        "seed",
        "way",
        "shot",
        "classifier",
        "source_gc",
        "target_nc",
        "target_geometric_collapse",
        "accuracy",
        "ci95",
    ]
    _save(fig, pdf, png, data[keep], csv)


def render(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> None:
    """Draw one planned figure (see :func:`figure_plan`)."""
    sns.set_theme(context="paper", style="whitegrid", palette=PALETTE)
    kind = plan["kind"]
    if kind == "sweep":
        render_sweep(plan, inputs, pdf, png, csv)
    elif kind == "learning_curves":
        render_sweep(plan, inputs, pdf, png, csv, metrics=("accuracy",), split="test")
    elif kind == "gc_sampling":
        render_gc_sampling(plan, inputs, pdf, png, csv)
    elif kind == "bound":
        render_bound(plan, inputs, pdf, png, csv)
    elif kind == "transfer":
        render_transfer(plan, inputs, pdf, png, csv)
    else:
        raise ValueError(f"unknown figure kind '{kind}'")


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)

    def fmt(v):
        return f"{v:.4g}" if isinstance(v, float | np.floating) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += [
        "| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


def render_table(plan: dict[str, Any], inputs: list[str], csv: str, md: str) -> None:
    """Write a paper table as CSV and Markdown."""
    data = pd.read_csv(inputs[0])
    if plan["name"] == "table_poincare":
        table = data
    else:
        data["rhs_over_lhs"] = (data.rhs / data.lhs).replace([np.inf, -np.inf], np.nan)
        table = data.groupby(["bound", "c_method"], as_index=False).agg(
            rows=("holds", "size"),
            holds_fraction=("holds", "mean"),
            median_rhs_over_lhs=("rhs_over_lhs", "median"),
        )
    table.to_csv(csv, index=False)
    with open(md, "w") as fh:
        fh.write(f"{plan['caption']}\n\n{_markdown(table)}")
