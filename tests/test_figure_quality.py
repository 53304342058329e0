"""Every figure kind at publication size (issue 33): at most 6.75 in wide, every text at least
7 pt at that size, nothing cut off at the edges, written at that size (PNG pixels and PDF page),
titled with names a reader knows, and captioned "Analogue of Fig. N (paper: ...; here: ...)" or
as our own study, with what the data show."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from gcnc.study.figures import common, figure_plan, render
from gcnc.study.figures.controls import protocol_legend
from gcnc.study.figures.draw import RENDERERS
from gcnc.study.figures.names import arch_name, dataset_name
from tests.test_figures import _plan, tables  # noqa: F401  (tables: a fixture)

PROTOCOLS = ["cosine LR, 64 epochs", "constant LR, 1500 steps, LR proportional to batch size"]
MODES = [("linear_probe", "-"), ("layer_ft", "conv1"), ("layer_ft", "conv4"), ("scl_ft", "conv4"),
         ("full_ft", "-"), ("fewshot_ncm", "-"), ("fewshot_logreg", "-")]  # fmt: skip


def _realistic(plan: dict) -> dict:
    """The fixture plan on a real dataset and network, so that titles have their real length."""
    return plan | {"dataset": "fashion_mnist_quick", "arch": "vgg_small", "caption": "Caption."}


def _controls_plan() -> dict:
    plan = _realistic(_plan("controls"))
    sweep = [row | {"protocol": p} for row in plan["sweep"] for p in PROTOCOLS]
    return plan | {"sweep": sweep, "protocols": PROTOCOLS, "studies": ["fig1", "lr_long"]}


def _sampling_table(path) -> str:
    rng = np.random.default_rng(0)
    levels = {
        "examples": [10, 30, 100, 300],
        "jacobian_entries": [0.005, 0.02, 1.0],
        "features": [0.0625, 0.25, 1.0],
        "hutchinson": [0.0625, 0.25, 1.0],
    }
    rows = []
    for axis, values in levels.items():
        for level, trial in itertools.product(values, range(3)):
            cost = level if axis == "examples" else 300 * level
            rows.append(
                {
                    "axis": axis,
                    "level": level,
                    "trial": trial,
                    "estimate": 32 + rng.normal(0, 3 / np.sqrt(cost)),
                    "exact": 32.3,
                    "seconds": 0.01 * cost,
                    "exact_seconds": 2.0,
                    "n_probes": np.nan,
                    "vjps": 32 * cost,
                    "jvps": 0,
                    "pool_examples": 300,
                    "heldout": 32.5,
                    "heldout_sem": 0.27,
                    "heldout_examples": 1000,
                }  # fmt: skip
            )
    pd.DataFrame(rows).to_csv(path / "gc_sampling.csv", index=False)
    return str(path / "gc_sampling.csv")


def _finetune_table(path, plan: dict) -> str:
    rng = np.random.default_rng(1)
    rows = []
    for r, (mode, unit) in itertools.product(plan["runs"][:6], MODES):
        rows.append(
            {
                "run_id": r["run_id"],
                "seed": r["seed"],
                "status": "ok",
                "mode": mode,
                "unit": unit,
                "best": unit != "conv1",
                "trainable_params": 1000,
                "accuracy": rng.uniform(0.5, 0.95),
                "target_nc1": rng.uniform(0.1, 8),
                "target_cdnv": 0.5,
                "stable_rank": 3.0,
                "source_nc1": rng.uniform(0.04, 0.3),
                "source_gc": 30.0,
                "shot": 5 if mode.startswith("fewshot") else np.nan,
                "finetune_steps": 0 if mode.startswith("fewshot") else 100,
            }  # fmt: skip
        )
    pd.DataFrame(rows).to_csv(path / "finetune.csv", index=False)
    return str(path / "finetune.csv")


@pytest.fixture
def checked(monkeypatch):
    """Every figure :func:`gcnc.study.figures.common.save` checks, with what it measured and how far
    its artists reach beyond the edges (measured before it is saved and closed)."""
    seen: list[dict] = []
    real = common.check_size_and_fonts

    def check(fig):
        reach = common.overflow_inches(fig)
        seen.append({"fig": fig, "title": fig.get_suptitle(), "overflow": reach, **real(fig)})
        return seen[-1]

    monkeypatch.setattr(common, "check_size_and_fonts", check)
    return seen


def _inputs(kind: str, tables: dict, tmp_path, plan: dict) -> list[str]:  # noqa: F811
    metrics = tables["sweep"]
    if kind == "controls":
        frame = pd.read_csv(metrics[0])  # BatchNorm-recalibrated NC: the tallest variant
        frame["nc_bn_recalibrated"] = frame["nc"] * 0.9
        frame.to_csv(metrics[0], index=False)
        return metrics
    if kind == "gc_sampling":
        return [_sampling_table(tmp_path)]
    if kind == "finetune":
        return [_finetune_table(tmp_path, plan)]
    return tables[kind]


@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_every_figure_kind_fits_a_paper_at_7_pt(kind, tables, tmp_path, checked):  # noqa: F811
    plan = _controls_plan() if kind == "controls" else _realistic(_plan(kind))
    out = {ext: str(tmp_path / f"{kind}.{ext}") for ext in ("pdf", "png", "csv")}
    text = render(plan, _inputs(kind, tables, tmp_path, plan), out["pdf"], out["png"], out["csv"])
    (fig,) = checked
    assert fig["width_in"] <= common.MAX_WIDTH_IN
    assert fig["min_font_pt"] >= common.MIN_FONT_PT
    assert fig["overflow"] < 0.01, f"{kind}: artists reach {fig['overflow']:.2f} in past the edge"
    width, height = Image.open(out["png"]).size  # written at the figure's own size
    assert width == pytest.approx(fig["width_in"] * common.PNG_DPI, abs=2)
    assert height == pytest.approx(fig["height_in"] * common.PNG_DPI, abs=2)
    with open(out["pdf"], "rb") as fh:
        box = re.search(rb"/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", fh.read())
    assert float(box.group(1)) / 72 <= common.MAX_WIDTH_IN + 1e-6
    assert "Fashion-MNIST" in fig["title"] and "VGG, width 8" in fig["title"]
    assert not re.search(r"[a-z]_[a-z]", fig["title"])  # no internal ids in the title
    assert text.startswith("Caption.") and len(text) > len("Caption.")


def test_save_refuses_a_figure_too_wide_or_with_small_text(tmp_path):
    out = [str(tmp_path / f"f.{ext}") for ext in ("pdf", "png", "csv")]
    wide, _ = plt.subplots(figsize=(7.5, 3))
    with pytest.raises(ValueError, match="wide"):
        common.save(wide, out[0], out[1], pd.DataFrame(), out[2])
    cut, ax = plt.subplots(figsize=(4, 3))
    ax.text(1.1, 0.5, "past the right edge", transform=ax.transAxes, fontsize=8)
    assert common.overflow_inches(cut) > 0.5  # what the figure test would catch
    small, ax = plt.subplots(figsize=(4, 3))
    ax.set_xlabel("tiny", fontsize=6)
    with pytest.raises(ValueError, match="'tiny' is 6 pt"):
        common.save(small, out[0], out[1], pd.DataFrame(), out[2])
    plt.close("all")


def test_names_are_those_readers_know():
    assert dataset_name("fashion_mnist_quick") == dataset_name("fashion_mnist") == "Fashion-MNIST"
    assert dataset_name("gaussians_mixtures") == "Gaussian mixtures"
    assert arch_name("vgg_small") == "VGG, width 8"
    assert arch_name("vgg_small", {"width": 16}) == "VGG, width 16"
    assert arch_name("vgg13") == "VGG-13"
    assert arch_name("vgg_small", {"batchnorm": False}) == "VGG, width 8, no BatchNorm"


@pytest.mark.parametrize("preset", ["smoke", "quick", "standard", "controls", "paper_mini"])
def test_captions_say_what_the_paper_ran_and_what_ran_here(config, preset):
    kinds = {n: d["kind"] for n, d in config["datasets"].items()}
    for name, plan in figure_plan(config, preset).items():
        caption = plan["caption"]
        assert "_" not in caption.split(").")[0], (name, caption)  # names, not config ids
        if plan["paper"].startswith("ours"):
            assert caption.startswith("Our ") and "not in the paper" in caption, name
        elif plan["kind"] != "finetune":
            figure = caption.split(" (paper: ")[0]
            assert figure.startswith("Analogue of ") and plan["paper"].split(" (")[0] in figure
            assert "(paper: " in caption and "; here: " in caption, (name, caption)
        if kinds.get(plan.get("dataset")) in {"gaussians", "uniform_boxes"}:
            assert plan["paper"].startswith("ours"), name  # synthetic: not App. A.5 / A.5.5


def test_quick_captions_carry_the_run_details(config):
    plan = figure_plan(config, "quick")
    fig1 = plan["fig1_gc_collapse_nc"]["caption"]
    for part in ("paper: VGG-13 on CIFAR-10", "here: VGG, width 8 on Fashion-MNIST",
                 "1,500 steps", "cosine", "3 seeds", "4 Hutchinson probes"):  # fmt: skip
        assert part in fig1, part
    gaussians = [p for p in plan.values() if p.get("dataset") == "gaussians_mixtures"]
    assert gaussians and all(p["paper"].startswith("ours") for p in gaussians)
    assert all("Gaussian mixtures" in p["caption"] for p in gaussians)
    assert "paper: ResNet-18 on CIFAR-100, 20 trials" in plan["fig2_gc_sampling"]["caption"]


def test_the_controls_legend_names_every_protocol_drawn_in_any_panel():
    """A protocol that sweeps only the batch size (LR proportional to batch) is drawn in the
    batch column alone: the legend still names it, once, in the plan's order."""
    fig, (lr, batch) = plt.subplots(1, 2)
    lr.plot([0, 1], [0, 1], label="256 epochs")
    batch.plot([0, 1], [0, 1], label="64 epochs")
    batch.plot([0, 1], [1, 0], label="LR proportional to batch size")
    batch.plot([0, 1], [1, 1], label="256 epochs")
    handles, labels = protocol_legend(
        [lr, batch], ["64 epochs", "LR proportional to batch size", "256 epochs", "not run"]
    )
    plt.close(fig)
    assert labels == ["64 epochs", "LR proportional to batch size", "256 epochs"]
    assert handles[2] is lr.get_lines()[0] and handles[0] is batch.get_lines()[0]


def test_step_ticks_mark_every_logged_step_and_label_no_two_neighbours_beyond_four():
    fig, (six, four) = plt.subplots(1, 2)
    common.step_ticks(six, [250, 500, 750, 1000, 1250, 1500, 1500])
    common.step_ticks(four, [0, 100, 200, 300])
    plt.close(fig)
    assert list(six.get_xticks()) == [250, 500, 750, 1000, 1250, 1500]
    assert [t.get_text() for t in six.get_xticklabels()] == ["", "500", "", "1,000", "", "1,500"]
    assert [t.get_text() for t in four.get_xticklabels()] == ["0", "100", "200", "300"]


def test_every_published_figure_is_at_most_two_columns_wide_with_its_sidecar():
    """The committed evidence (published/<preset>/) meets the same size rule as a fresh render,
    and every figure there carries its provenance sidecar and plotted data."""
    root = Path(__file__).resolve().parents[1] / "published"
    pngs = sorted(root.glob("*/*.png"))
    assert {p.parent.name for p in pngs} >= {"quick", "controls", "standard"}
    for png in pngs:
        with Image.open(png) as image:
            (dpi, _), width = image.info["dpi"], image.size[0]
        assert width / dpi <= 6.75 + 1e-3, png
        for suffix in (".prov.json", ".csv", ".pdf"):
            assert png.with_suffix(suffix).is_file(), (png, suffix)
