"""Figures a paper can print (issue 33): names readers know ("Fashion-MNIST", "VGG, width 8")
and captions that read "Analogue of Fig. N (paper: ...; here: ...)", or say the study is ours."""

from __future__ import annotations

import pytest

from gcnc.figures import figure_plan
from gcnc.figures.names import arch_name, dataset_name


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
