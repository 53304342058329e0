from pathlib import Path

import pytest
import torch
import yaml

from gcnc.study.config import (
    ConfigError,
    check_device,
    load_config,
    resolve_config,
    validate_config,
)
from gcnc.study.grid import expand_runs, study_runs

ROOT = Path(__file__).resolve().parents[1]


def test_presets_expand_to_unique_runs(config):
    for preset in config["presets"]:
        runs = expand_runs(config, preset)
        assert len(runs) == len(set(runs))
        assert all(r == s.run_id for r, s in runs.items())


def test_study_is_base_plus_one_knob_sweeps(config):
    s = config["presets"]["quick"]["studies"]["fig1"]
    runs = study_runs(config, "quick", "fig1")
    n_points = 1 + sum(len(v) for v in s["sweep"].values())
    assert len(runs) == n_points * len(s["seeds"])
    base = s["base"]
    for r in runs:  # every run differs from the base in at most one knob
        diffs = [k for k in base if getattr(r, k) != base[k]]
        assert len(diffs) <= 1


def test_paper_preset_covers_the_paper(config):
    runs = expand_runs(config, "paper").values()
    combos = {(r.dataset, r.arch) for r in runs}
    assert {
        ("cifar10", "vgg13"),
        ("mnist", "vgg11"),
        ("fashion_mnist", "vgg11"),
        ("cifar100", "resnet18"),
        ("cifar100", "resnet50"),
        ("cifar_fs", "resnet18"),
        ("mini_imagenet", "vgg16"),
    } <= combos
    fig3 = study_runs(config, "paper", "fig3")
    assert sorted({r.seed for r in fig3}) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda c: c.update(bogus=1), "<top level>"),
        (
            lambda c: c["presets"]["quick"]["training"].update(steps="many"),
            "presets/quick/training/steps",
        ),
        (
            lambda c: c["presets"]["quick"]["studies"]["fig1"].update(arch="transformer"),
            "presets/quick/studies/fig1/arch",
        ),
        (lambda c: c.update(preset="huge"), "preset"),
        (
            lambda c: c["presets"]["quick"]["studies"]["fig1"].update(dataset="imagenet"),
            "presets/quick/studies/fig1/dataset",
        ),
    ],
)
def test_bad_config_names_the_key(cfg, mutate, key):
    mutate(cfg)
    with pytest.raises(ConfigError, match=key):
        validate_config(cfg)


def test_conflicting_run_definitions_are_rejected(cfg):
    """Ids print the learning rate with 6 significant digits: two rates that differ further
    down would share a run folder, and are refused."""
    cfg["presets"]["quick"]["studies"]["fig3"]["base"]["lr"] = 0.0500000001
    with pytest.raises(ConfigError, match="defined twice"):
        validate_config(cfg)


def test_a_run_shared_by_studies_needs_one_log_interval(cfg):
    cfg["presets"]["quick"]["studies"]["fig3"]["log_every"] = 125  # fig3 shares fig1's runs
    with pytest.raises(ConfigError, match="fig3"):
        validate_config(cfg)


def test_study_log_interval_reaches_its_runs_only(config):
    quick = config["presets"]["quick"]
    penalised = study_runs(config, "quick", "gc_regularisation")
    assert {r.log_every for r in penalised} == {quick["studies"]["gc_regularisation"]["log_every"]}
    assert {r.log_every for r in study_runs(config, "quick", "fig1")} == {None}
    assert penalised[0].log_interval(quick["training"]) == 100
    fig1 = study_runs(config, "quick", "fig1")[0]
    assert fig1.log_interval(quick["training"]) == quick["training"]["log_every"] != 100


def test_derived_preset_is_its_parent_with_overrides(config):
    """paper_mini = paper with its own keys laid over it and every study shrunk."""
    paper, mini = config["presets"]["paper"], config["presets"]["paper_mini"]
    assert mini["derived_from"] == "paper"
    assert sorted(mini["studies"]) == sorted(paper["studies"])
    for name, study in paper["studies"].items():
        small = mini["studies"][name]
        assert (small["dataset"], small["arch"]) == (study["dataset"], study["arch"])
        assert small["seeds"] == study["seeds"][:1]
        assert small["base"]["batch_size"] == min(study["base"]["batch_size"], 16)
        for knob, values in small.get("sweep", {}).items():
            assert len(values) == 1
            assert values[0] in study["sweep"][knob] or knob == "batch_size"
    assert mini["training"]["momentum"] == paper["training"]["momentum"]  # inherited
    assert mini["training"]["steps"] < paper["training"]["steps"]  # overridden
    assert mini["gc_sampling"]["study"] in paper["studies"]


def test_replace_keeps_only_the_derived_presets_own_studies(config):
    """controls = quick with its own studies (replace), without fine-tuning, its training and
    metric settings pinned; each study's budget (in epochs) is in its runs and their ids, and
    runs with the same settings are shared between its studies."""
    quick, controls = config["presets"]["quick"], config["presets"]["controls"]
    assert controls["derived_from"] == "quick" and "finetune" not in controls
    assert "gc_regularisation" not in controls["studies"]
    assert controls["metrics"] == quick["metrics"] | {"bn_recalibration": True}
    assert controls["training"] == quick["training"] | {"log_every": 500}  # pinned
    budgets = {
        name: {(r.lr_schedule, r.epochs) for r in study_runs(config, "controls", name)}
        for name in controls["studies"]
    }
    at = {64: {("cosine", 64)}, 256: {("cosine", 256)}}
    assert budgets == {
        "fig1": at[64], "fig3": at[64], "batch_equal_noise": at[64], "batch_terminal": at[256],
        "gc_penalty": at[64], "lr_long": at[256], "fig4_related_split": at[64],
    }  # fmt: skip
    runs = expand_runs(config, "controls")
    # (a) 3 x 3; (b) 2 x 3 more (the base is (a)'s); (c) 3 x 3; (d) 2 x 3 more; (e) 2 x 5 and
    # the base of seeds 3, 4 (seeds 0-2 are (c)'s); the second split 7 x 3
    assert len(runs) == 9 + 6 + 9 + 6 + 12 + 21
    for run_id, spec in runs.items():
        assert f"_{spec.lr_schedule}_bs~" in run_id and f"_epochs~{spec.epochs}_" in run_id
        assert "steps~" not in run_id
    default = quick["training"].get("lr_schedule", "constant")
    assert {r.lr_schedule for r in expand_runs(config, "quick").values()} == {default}


def test_editing_the_parent_changes_the_derived_preset():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["presets"]["paper"]["training"]["momentum"] = 0.5
    raw["presets"]["paper"]["studies"]["fig1"]["sweep"]["lr"] = [0.3, 0.4]
    mini = resolve_config(raw)["presets"]["paper_mini"]
    assert mini["training"]["momentum"] == 0.5
    assert mini["studies"]["fig1"]["sweep"]["lr"] == [0.3]
    assert resolve_config(resolve_config(raw)) == resolve_config(raw)  # idempotent


@pytest.mark.parametrize(
    "mutate, key",
    [
        (lambda p: p["paper_mini"].update(extends="nope"), "presets/paper_mini/extends"),
        (lambda p: p["paper_mini"].update(shrink={"seeds": 0}), "presets/paper_mini/shrink"),
        (lambda p: p["paper_mini"].update(shrink={"folds": 2}), "presets/paper_mini/shrink"),
        (
            lambda p: p.update(again={"extends": "paper_mini"}),
            "presets/again/extends",
        ),
        (lambda p: p["paper_mini"].update(replace="studies"), "presets/paper_mini/replace"),
    ],
)
def test_bad_derived_preset_names_the_key(mutate, key):
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    mutate(raw["presets"])
    with pytest.raises(ConfigError, match=key):
        resolve_config(raw)


def test_cuda_without_a_gpu_names_the_device_key(cfg, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg["presets"]["quick"]["device"] = "cuda"
    with pytest.raises(ConfigError, match="presets/quick/device"):
        check_device(cfg, "quick")
    cfg["presets"]["quick"]["device"] = "auto"
    check_device(cfg, "quick")  # auto falls back to the CPU


@pytest.mark.parametrize(
    "mutate, key",
    [
        (
            lambda c: c["presets"]["quick"]["studies"]["fig1"]["base"].update(lr=float("nan")),
            "presets/quick/studies/fig1/base/lr",
        ),
        (
            lambda c: c["presets"]["smoke"]["studies"]["fig1"]["sweep"].update(lr=[float("inf")]),
            "presets/smoke/studies/fig1/sweep/lr/0",
        ),
        (
            lambda c: c["presets"]["quick"]["studies"]["fig3"]["base"].update(batch_size=100000),
            "presets/quick/studies/fig3/base/batch_size",
        ),
        (
            lambda c: c["presets"]["quick"]["studies"]["fig1"]["sweep"].update(
                batch_size=[16, 5000]
            ),
            "presets/quick/studies/fig1/sweep/batch_size/1",
        ),
        (
            lambda c: c["datasets"]["fashion_mnist"].update(source_classes=[0, 42]),
            "datasets/fashion_mnist/source_classes",
        ),
        (
            lambda c: c["datasets"]["digits"].update(target_classes=[4, 5]),
            "datasets/digits/target_classes",
        ),
        (
            lambda c: c["datasets"]["gaussians_mixtures"].pop("source_classes"),
            "datasets/gaussians_mixtures/source_classes' is not set",
        ),
        (
            lambda c: c["datasets"]["fashion_mnist_quick"].pop("target_classes"),
            "datasets/fashion_mnist_quick/target_classes' is not set",
        ),
        (
            lambda c: c["presets"]["quick"]["fewshot"].update(ways=[10]),
            "presets/quick/fewshot/ways",
        ),
        (
            lambda c: c["presets"]["quick"]["fewshot"].update(shots=[5000]),
            "presets/quick/fewshot/queries",
        ),
        (
            lambda c: c["presets"]["quick"]["fewshot"].update(queries=10000),
            "presets/quick/fewshot/queries",
        ),
        (
            lambda c: c["presets"]["quick"]["poincare"].update(datasets=["nope"]),
            "presets/quick/poincare/datasets/0",
        ),
    ],
)
def test_semantic_errors_name_the_key(cfg, mutate, key):
    """Inputs a schema cannot catch: each stops validation with the key at fault."""
    mutate(cfg)
    with pytest.raises(ConfigError, match=key):
        validate_config(cfg)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("presets: {smoke: [unclosed\n", "not valid YAML at line"),
        ("- a\n- b\n", "expected a mapping"),
    ],
)
def test_unreadable_config_file_is_named(tmp_path, text, expected):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"config file {path}: {expected}"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_config(tmp_path / "missing.yaml")


def test_scheduler_requests_live_outside_params_and_are_checked(tmp_path):
    """profiles/resources.yaml: a derived preset uses its parent's entry; a wrong key or
    a scale for a name the preset does not use is an error naming the file and the key."""
    from gcnc.study.grid import study_runs
    from gcnc.study.resources import preset_resources, pretrain_request
    from gcnc.study.validation import ConfigError

    config = load_config(ROOT / "params.yaml")
    resources = ROOT / "profiles/resources.yaml"
    mini = preset_resources(config, "paper_mini", resources)
    assert mini == preset_resources(config, "paper", resources)  # paper_mini extends paper
    spec = study_runs(config, "paper", "fig1")[0]
    assert pretrain_request(spec, mini) == {"mem_mb": 8000, "runtime": 40}
    bad = tmp_path / "resources.yaml"
    bad.write_text("quick:\n  pretrain: {mem_mb: 2000, runtme: 10}\n")
    with pytest.raises(ConfigError, match=r"resources.yaml: key 'quick/pretrain'"):
        preset_resources(config, "quick", bad)
    bad.write_text("quick:\n  pretrain: {mem_mb: 2000, runtime: 10, scale: {resnet50: 2}}\n")
    with pytest.raises(ConfigError, match=r"key 'quick/pretrain/scale/resnet50'"):
        preset_resources(config, "quick", bad)
