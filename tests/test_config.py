import pytest

from gcnc.config import ConfigError, expand_runs, study_runs, validate_config


def test_presets_expand_to_unique_runs(config):
    for preset in ("smoke", "quick", "paper"):
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
    cfg["presets"]["quick"]["studies"]["fig3"]["model"] = {"embed_dim": 7}
    with pytest.raises(ConfigError, match="defined twice"):
        validate_config(cfg)
