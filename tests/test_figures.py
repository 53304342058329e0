"""Figures a reader can trust at a glance (gcnc.study.figures; the paper's Figs. 1-4 and App. A.5):
titles that name the setting, captions that say what the bands are and what the data show,
curves after initialisation, colours ordered by regularisation strength in every row,
integer batch sizes, readable log ticks, Fig. 3's legend off the data with named c estimates,
Fig. 2's held-out reference and cost panels, Type 42 PDFs and 300-dpi PNGs."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.colors import to_rgb
from PIL import Image

from gcnc.study.figures import bound as bound_mod
from gcnc.study.figures import common, figure_plan, render, renderer, sampling, sweeps, transfer
from gcnc.study.figures.common import by_strength, readable_log, strength_colours
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining import sgd as training
from gcnc.study.theory import gc_sampling

BASE = {"lr": 0.05, "batch_size": 64, "weight_decay": 0.0005, "gc_reg": 0.0}
SWEEP = {"lr": [0.01, 0.2], "batch_size": [16, 128], "weight_decay": [0.0, 0.005]}
SEEDS = [0, 1]


def _plan(kind: str, knobs=("lr", "batch_size", "weight_decay")) -> dict:
    points = [dict(BASE)] + [dict(BASE, **{k: v}) for k in knobs for v in SWEEP[k]]
    runs = []
    for seed, p in itertools.product(SEEDS, points):
        spec = RunSpec(
            "toyset",
            "toynet",
            "source",
            p["lr"],
            p["batch_size"],
            p["weight_decay"],
            p["gc_reg"],
            seed,
            40,
        )
        runs.append(spec.to_dict() | {"run_id": spec.run_id})
    sweep = [  # the run plan's rows: a changed knob's row, or every row for the base point
        {"run_id": r["run_id"], "knob": k}
        for r in runs
        for k in ([k for k in knobs if r[k] != BASE[k]] or list(knobs))
    ]
    return {
        "name": kind,
        "kind": kind,
        "paper": "Fig. X",
        "caption": "",
        "base": BASE,
        "knobs": list(knobs),
        "runs": runs,
        "sweep": sweep,
        "dataset": "toyset",
        "arch": "toynet",
    }


def _strength(r: dict) -> float:
    """A made-up response that falls with regularisation strength in every knob."""
    return np.log(r["lr"]) - np.log(r["batch_size"]) + 100 * r["weight_decay"]


@pytest.fixture
def tables(tmp_path):
    plan = _plan("sweep")
    rows = []
    for r, step, split in itertools.product(plan["runs"], [0, 20, 40], ["train", "test"]):
        level = np.exp(-_strength(r)) * (1 + step)
        rows.append(
            {
                **{k: r[k] for k in ("run_id", "seed", *BASE)},
                "step": step,
                "split": split,
                "gc": level,
                "geometric_collapse": 2 + level / 100,
                "nc": 0.2 + 0.01 * r["seed"],
                "accuracy": 0.5 + step / 100,
            }
        )
    metrics, runs = tmp_path / "metrics.csv", tmp_path / "runs.csv"
    pd.DataFrame(rows).to_csv(metrics, index=False)
    pd.DataFrame({"run_id": [r["run_id"] for r in plan["runs"]], "status": "ok"}).to_csv(
        runs, index=False
    )
    bounds = []
    for r, step, (method, c) in itertools.product(
        plan["runs"], [0, 40], [("paper_nc_over_gcol", 0.31), ("ritz_polynomial", 207.0)]
    ):
        bounds.append(
            {
                "bound": "prop4.3",
                "run_id": r["run_id"],
                "seed": r["seed"],
                "step": step,
                "c_method": method,
                "c": c,
                "lhs": 0.1 + step / 1000,
                "rhs": c * 300,
            }
        )
    pd.DataFrame(bounds).to_csv(tmp_path / "bounds.csv", index=False)
    shots = []
    for r, shot, clf in itertools.product(plan["runs"], [1, 5], ["ncm", "logreg"]):
        shots.append(
            {
                **{k: r[k] for k in ("run_id", "seed", *BASE)},
                "status": "ok",
                "way": 5,
                "shot": shot,
                "classifier": clf,
                "episodes": 20,
                "source_gc": np.exp(-_strength(r)),
                "target_nc": 1.5,
                "target_geometric_collapse": 3.0,
                "accuracy": 0.6 + 0.08 * r["seed"],  # seeds differ far more than episodes
                "ci95": 0.02,
            }
        )
    pd.DataFrame(shots).to_csv(tmp_path / "fewshot.csv", index=False)
    return {
        "sweep": [str(metrics), str(runs)],
        "learning_curves": [str(metrics), str(runs)],
        "bound": [str(tmp_path / "bounds.csv")],
        "transfer": [str(tmp_path / "fewshot.csv")],
    }


@pytest.fixture
def drawn(monkeypatch):
    """Every figure handed to ``save``, before it is closed."""
    figs: list[plt.Figure] = []
    real = common.save

    def keep(fig, *args):
        figs.append(fig)
        real(fig, *args)

    for mod in (sweeps, sampling, bound_mod, transfer):
        monkeypatch.setattr(mod, "save", keep)
    return figs


def _draw(kind: str, tables: dict, tmp_path, plan: dict | None = None) -> dict[str, str]:
    plan = plan or _plan(kind)
    out = {ext: str(tmp_path / f"{kind}.{ext}") for ext in ("pdf", "png", "csv")}
    out["caption"] = render(plan, tables[kind], out["pdf"], out["png"], out["csv"])
    return out


@pytest.mark.parametrize("knob", ["lr", "batch_size", "weight_decay", "gc_reg"])
def test_colours_darken_with_regularisation_strength(knob):
    values = {
        "lr": [0.2, 0.01, 0.05],
        "batch_size": [16, 128, 64],
        "weight_decay": [0.005, 0.0, 0.0005],
        "gc_reg": [0.1, 0.0, 0.01],
    }[knob]
    order = by_strength(knob, values)
    assert order == (sorted(values, reverse=True) if knob == "batch_size" else sorted(values))
    colours = strength_colours(knob, values)
    luminance = [np.dot(to_rgb(colours[v]), [0.2126, 0.7152, 0.0722]) for v in order]
    assert luminance == sorted(luminance, reverse=True)  # weakest lightest, strongest darkest
    # the same colour for the same strength rank in every row and every figure
    assert list(colours.values()) == list(strength_colours("lr", [1, 2, 3]).values())


def test_fig1_rows_share_strength_colours_and_columns_share_y(tables, tmp_path, drawn):
    out = _draw("sweep", tables, tmp_path)
    (fig,) = drawn
    axes = np.array(fig.axes).reshape(3, 3)
    rows = []
    for i, knob in enumerate(["lr", "batch_size", "weight_decay"]):
        lines = axes[i, 0].get_lines()
        labels = [ln.get_label() for ln in lines]
        values = by_strength(knob, [BASE[knob], *SWEEP[knob]])
        expect = [common.value_label(knob, v) for v in values]
        assert labels == expect  # legend in strength order, values as printed
        rows.append([to_rgb(ln.get_color()) for ln in lines])
    assert rows[0] == rows[1] == rows[2]
    assert axes[2, 1].get_legend_handles_labels()[1] == ["0", "0.0005", "0.005"]
    assert axes[1, 2].get_legend().get_texts()[0].get_text() == "128"
    for j in range(3):
        assert len({axes[i, j].get_ylim() for i in range(3)}) == 1
    csv = pd.read_csv(out["csv"], dtype=str)
    bs = csv[csv.knob == "batch_size"]
    assert set(bs.value) == {"16", "64", "128"}


@pytest.mark.parametrize("kind", ["sweep", "learning_curves", "bound", "transfer"])
def test_every_figure_names_its_setting_and_captions_its_bands(kind, tables, tmp_path, drawn):
    out = _draw(kind, tables, tmp_path)
    title = drawn[0].get_suptitle().replace("\n", " ")
    assert "toynet, width" not in title and "toynet on toyset" in title  # one line, no run details
    assert "seed" not in title and "steps" not in title  # those go in the caption
    assert "\u00b11 sd over 2 seeds" in out["caption"] and "Found" in out["caption"]


def test_single_seed_figures_say_there_is_no_band(tables, tmp_path, drawn):
    plan = _plan("sweep")
    plan["runs"] = [r for r in plan["runs"] if r["seed"] == 0]
    seed0 = {r["run_id"] for r in plan["runs"]}
    plan["sweep"] = [r for r in plan["sweep"] if r["run_id"] in seed0]
    out = _draw("sweep", tables, tmp_path, plan)
    assert "Single seed, no bands." in out["caption"]


def test_fig3_legend_below_axes_with_named_c_and_vacuity_line(tables, tmp_path, drawn):
    _draw("bound", tables, tmp_path)
    (fig,) = drawn
    (ax,) = fig.axes
    assert ax.get_legend() is None and len(fig.legends) == 1
    legend = fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert "RHS, c from the paper's c: max NC / GCol after initialisation: c = 0.31" in labels
    assert "RHS, c from Ritz, restricted (cubic, top-4 PCs): c = 207" in labels
    assert "bound = 1 (vacuous above)" in labels
    assert not any("_" in label for label in labels)
    fig.canvas.draw()
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.y1 <= axes_box.y0  # the legend sits below the axes, off the data


def test_pdf_type42_and_png_300_dpi(tables, tmp_path):
    out = _draw("bound", tables, tmp_path)
    with open(out["pdf"], "rb") as fh:
        pdf = fh.read()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf
    dpi = Image.open(out["png"]).info["dpi"]
    assert all(abs(d - 300) < 1 for d in dpi)


@pytest.mark.parametrize("limits", [(0.45, 0.53), (9.5, 47.0), (1.6, 2.6)])
def test_log_axes_under_a_decade_get_plain_ticks(limits):
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    ax.set_ylim(*limits)
    readable_log(ax)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    visible = [float(s) for s in labels]
    assert len([v for v in visible if limits[0] <= v <= limits[1]]) >= 3
    assert not any("10^" in s or "times" in s for s in labels)
    plt.close(fig)


def test_fig4_orders_values_weak_to_strong(tables, tmp_path, drawn):
    out = _draw("transfer", tables, tmp_path)
    axes = np.array(drawn[0].axes).reshape(3, 3)
    ticks = [t.get_text() for t in axes[1, 0].get_xticklabels()]
    assert ticks == ["128", "64", "16"]
    csv = pd.read_csv(out["csv"], dtype=str)
    assert set(csv["shot"]) == {"5"} and "16.0" not in set(csv.value)


def test_fig2_draws_held_out_reference_and_cost(digits, tmp_path, drawn):
    torch.manual_seed(0)
    spec = RunSpec("digits", "mlp", "full", 0.05, 16, 0.0, 0.0, 0, 6, {"width": 16})
    model = training.model_for(spec, digits)
    cfg = {
        "trials": 2,
        "eval_examples": 30,
        "example_counts": [10, 30],
        "input_fractions": [0.5, 1.0],
        "feature_fractions": [0.5, 1.0],
        "heldout_examples": 60,
    }
    table = gc_sampling.sampling_study(model, digits.view("full", "train"), cfg)
    table.to_csv(tmp_path / "gc_sampling.csv", index=False)
    plan = _plan("gc_sampling") | {"runs": [spec.to_dict() | {"run_id": spec.run_id}]}
    out = _draw("gc_sampling", {"gc_sampling": [str(tmp_path / "gc_sampling.csv")]}, tmp_path, plan)
    (fig,) = drawn
    titles = [ax.get_title() for ax in fig.axes]
    assert "examples in the batch" in titles and "error against cost: seconds" in titles
    assert all(titles)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("held-out reference: exact GC of 60 other training examples" in s for s in labels)
    heldout = table.heldout.iloc[0]
    examples = fig.axes[0]
    assert any(np.allclose(ln.get_ydata(), heldout) for ln in examples.get_lines())
    assert "\u00b11 sd over 2 trials" in out["caption"]
    assert len({ax.get_ylim() for ax in fig.axes[:4]}) == 1  # the estimates share one y-range


def test_renderer_names_each_figure_module(config):
    plan = figure_plan(config, "quick")
    assert renderer(plan["fig1_gc_collapse_nc"]).__module__ == "gcnc.study.figures.sweeps"
    assert renderer(plan["fig2_gc_sampling"]).__module__ == "gcnc.study.figures.sampling"
    with pytest.raises(ValueError, match="unknown figure kind"):
        renderer({"kind": "pie"})


def test_planning_figures_does_not_import_matplotlib():
    """figures.smk plans at parse time, on every Snakemake call: no plotting stack then."""
    import subprocess
    import sys

    code = "import sys, gcnc.study.figures as f; f.figure_plan; print(sorted(m for m in "
    code += "('matplotlib', 'seaborn', 'torch') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("kind", ["sweep", "learning_curves"])
def test_curves_along_training_start_after_initialisation(kind, tables, tmp_path, drawn):
    out = _draw(kind, tables, tmp_path)
    (fig,) = drawn
    for ax in fig.axes:
        for line in ax.get_lines():
            assert min(line.get_xdata()) == 20 and line.get_marker() == "o"  # step 0 left out
    assert set(pd.read_csv(out["csv"]).step) == {20, 40}


def test_learning_curves_show_training_beside_test_accuracy(tables, tmp_path, drawn):
    out = _draw("learning_curves", tables, tmp_path)
    axes = np.array(drawn[0].axes).reshape(3, 2)
    assert [ax.get_title() for ax in axes[0]] == ["training accuracy", "test accuracy"]
    assert len({ax.get_ylim() for ax in axes.flat}) == 1  # one y-range: they compare
    assert {"train_accuracy", "test_accuracy"} <= set(pd.read_csv(out["csv"]).columns)


def test_fig4_shows_each_seed_and_an_interval_over_seeds(tables, tmp_path, drawn):
    out = _draw("transfer", tables, tmp_path)
    axes = np.array(drawn[0].axes).reshape(3, 3)
    accuracy = axes[0, 2]
    seeds = [c for c in accuracy.collections if c.get_offsets().shape[0] == 2]
    points = {round(float(y), 6) for c in seeds for y in np.asarray(c.get_offsets())[:, 1]}
    assert seeds and points == {0.6, 0.68}  # each seed's accuracy is drawn
    bars = [c for c in accuracy.collections if type(c).__name__ == "LineCollection"]
    spans = {round(float(np.ptp(seg[:, 1])), 6) for b in bars for seg in b.get_segments()}
    assert spans == {round(2 * np.std([0.6, 0.68], ddof=1), 6)}  # +-1 sd over seeds, not CI95
    assert "Seeds at one setting differ in accuracy by up to 0.08" in out["caption"]


def test_fig3_y_label_does_not_read_as_a_ratio(tables, tmp_path, drawn):
    _draw("bound", tables, tmp_path)
    assert drawn[0].axes[0].get_ylabel() == "error or bound"
