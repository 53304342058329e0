"""Pretraining: determinism, exact resumption after a kill, divergence handling, logged columns."""

import copy
import json
import math
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.pretrain import pretrain

COLUMNS = {
    "step",
    "split",
    "loss",
    "accuracy",
    "ncm_accuracy",
    "gc",
    "gc_max",
    "nc",
    "cdnv_max",
    "geometric_collapse",
    "nc1",
    "nc2_equinorm",
    "nc2_equiangle",
    "nc3",
    "nc4",
    "rank",
    "slope",
    "lr",
    "batch_size",
    "weight_decay",
    "gc_reg",
    "seed",
    "run_id",
}


def spec(**kw) -> RunSpec:
    base = dict(
        dataset="digits",
        arch="mlp",
        task="full",
        lr=0.05,
        batch_size=32,
        weight_decay=0.0,
        gc_reg=0.01,
        seed=3,
        steps=60,
    )
    return RunSpec(**{**base, **kw})


def metrics(path) -> pd.DataFrame:
    return pd.read_csv(path / "metrics.csv").drop(columns=["wall_time", "log_seconds"])


def test_logs_every_metric_and_is_deterministic(digits, config, tmp_path):
    preset = config["presets"]["smoke"]
    a = pretrain(spec(), digits, preset, tmp_path / "a", progress=False)
    pretrain(spec(), digits, preset, tmp_path / "b", progress=False)
    table = metrics(tmp_path / "a")
    assert set(table.columns) >= COLUMNS
    assert (pd.read_csv(tmp_path / "a" / "metrics.csv").log_seconds > 0).all()
    assert sorted(table.step.unique()) == [0, 20, 40, 60] and set(table.split) == {"train", "test"}
    pd.testing.assert_frame_equal(table, metrics(tmp_path / "b"))
    assert a["status"] == "ok"
    cfg = json.loads((tmp_path / "a" / "config.json").read_text())
    assert cfg["run"]["gc_reg"] == 0.01 and cfg["training"] == preset["training"]


def test_a_study_interval_sets_the_logged_steps_and_the_fingerprint(digits, config, tmp_path):
    """``log_every`` of the study (RunSpec) replaces the preset's 20; the run is bound to it,
    and a run on the preset's interval keeps the settings it had before the key existed."""
    preset = config["presets"]["smoke"]
    pretrain(spec(log_every=25), digits, preset, tmp_path / "a", progress=False)
    assert sorted(metrics(tmp_path / "a").step.unique()) == [0, 25, 50, 60]
    assert json.loads((tmp_path / "a" / "config.json").read_text())["run"]["log_every"] == 25
    assert "log_every" not in spec().to_dict() and RunSpec(**spec().to_dict()) == spec()
    assert RunSpec(**spec(log_every=25).to_dict()) == spec(log_every=25)


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_killed_run_resumes_to_identical_result(digits, config, tmp_path, monkeypatch, schedule):
    preset = config["presets"]["smoke"]
    run = spec(lr_schedule=schedule)
    pretrain(run, digits, preset, tmp_path / "clean", progress=False)

    calls = {"n": 0}
    original = torch.optim.SGD.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 35:
            raise KeyboardInterrupt("killed by the scheduler")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        pretrain(run, digits, preset, tmp_path / "killed", progress=False)
    monkeypatch.setattr(torch.optim.SGD, "step", original)
    assert not (tmp_path / "killed" / "metrics.csv").exists()
    assert sorted(p.name for p in (tmp_path / "killed" / "checkpoints").glob("*.pt")) == [
        "step_00000020.pt"
    ]
    pretrain(run, digits, preset, tmp_path / "killed", progress=False)
    pd.testing.assert_frame_equal(metrics(tmp_path / "clean"), metrics(tmp_path / "killed"))
    a = torch.load(tmp_path / "clean" / "final.pt", weights_only=True)
    b = torch.load(tmp_path / "killed" / "final.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_divergence_is_recorded(digits, config, tmp_path):
    summary = pretrain(
        spec(lr=1e8, gc_reg=0.0), digits, config["presets"]["smoke"], tmp_path, progress=False
    )
    assert summary["status"] == "diverged"
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"
    assert (tmp_path / "metrics.csv").exists() and (tmp_path / "final.pt").exists()


def test_higher_gc_regularisation_lowers_gc(digits, config, tmp_path):
    preset = config["presets"]["smoke"]
    gcs = []
    for lam in (0.0, 1.0):
        pretrain(spec(gc_reg=lam, steps=60), digits, preset, tmp_path / str(lam), progress=False)
        t = pd.read_csv(tmp_path / str(lam) / "metrics.csv")
        gcs.append(t[(t.split == "train")].gc.iloc[-1])
    assert gcs[1] < gcs[0]


def test_last_step_gc_is_exact_and_the_others_use_the_configured_estimator(
    digits, config, tmp_path
):
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["metrics"].update(gc_estimator="hutchinson", gc_probes=2, endpoint_gc_estimator="exact")
    pretrain(spec(), digits, preset, tmp_path / "mixed", progress=False)
    exact = copy.deepcopy(config["presets"]["smoke"])
    exact["metrics"]["gc_estimator"] = "exact"
    pretrain(spec(), digits, exact, tmp_path / "exact", progress=False)
    mixed, ref = metrics(tmp_path / "mixed"), metrics(tmp_path / "exact")
    by_step = mixed.groupby("step").gc_estimator.agg(set).to_dict()
    assert by_step == {0: {"hutchinson"}, 20: {"hutchinson"}, 40: {"hutchinson"}, 60: {"exact"}}
    # the estimator only changes what is measured, not the training: exact rows agree exactly
    ends = mixed.step == 60
    pd.testing.assert_frame_equal(mixed[ends], ref[ends])
    middle = ~ends
    rel = (mixed.gc[middle] - ref.gc[middle]).abs() / ref.gc[middle]
    assert (rel > 0).all() and (rel < 0.5).all()


def checkpoints(path) -> list[str]:
    return sorted(p.name for p in (path / "checkpoints").glob("*.pt"))


def test_only_the_newest_checkpoints_are_kept(digits, config, tmp_path):
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["training"]["checkpoint_every"] = 10  # steps 10, 20, ..., 60
    pretrain(spec(gc_reg=0.0), digits, preset, tmp_path / "default", progress=False)
    assert checkpoints(tmp_path / "default") == [f"step_000000{s}.pt" for s in (40, 50, 60)]
    assert set(pd.read_csv(tmp_path / "default" / "metrics.csv").device) == {"cpu"}
    preset["training"]["keep_checkpoints"] = 1
    pretrain(spec(gc_reg=0.0), digits, preset, tmp_path / "one", progress=False)
    assert checkpoints(tmp_path / "one") == ["step_00000060.pt"]

    # the disk fills up at step 50's checkpoint (its temporary file is the kernel's /dev/full,
    # which fails every write with ENOSPC): the error says so and names the file, nothing is
    # deleted or left half-written, and once there is space again the rerun equals a clean run
    ckpt_dir = tmp_path / "full" / "checkpoints"
    ckpt_dir.mkdir(parents=True)
    (ckpt_dir / "step_00000050.pt.tmp").symlink_to("/dev/full")
    with pytest.raises(OSError, match="No space left on device") as err:
        pretrain(spec(gc_reg=0.0), digits, preset, tmp_path / "full", progress=False)
    assert f"cannot write {ckpt_dir / 'step_00000050.pt'}" in str(err.value)
    assert checkpoints(tmp_path / "full") == ["step_00000040.pt"]
    assert not list((tmp_path / "full").rglob("*.tmp"))
    pretrain(spec(gc_reg=0.0), digits, preset, tmp_path / "full", progress=False)
    pd.testing.assert_frame_equal(metrics(tmp_path / "one"), metrics(tmp_path / "full"))


def _closed_form(schedule: str, lr: float, t: int, steps: int) -> float:
    """The rate of SGD step t written out independently of
    gcnc.study.pretraining.schedule.learning_rate."""
    if schedule == "cosine":
        return lr * (1 + math.cos(math.pi * (t - 1) / steps)) / 2
    if schedule == "step":
        return lr if 2 * t <= steps else lr / 10 if 4 * t <= 3 * steps else lr / 100
    return lr


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine"])
def test_schedule_sets_the_closed_form_rate_at_every_step(digits, config, monkeypatch, schedule):
    preset = config["presets"]["smoke"]
    seen = []
    original = torch.optim.SGD.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.SGD, "step", recording_step)
    run = spec(gc_reg=0.0, steps=40, lr_schedule=schedule)
    out = Path(tempfile.mkdtemp())
    pretrain(run, digits, preset, out, progress=False)
    expected = [_closed_form(schedule, run.lr, t, 40) for t in range(1, 41)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=0)
    assert seen[0] == run.lr
    logged = pd.read_csv(out / "metrics.csv").drop_duplicates("step").set_index("step").step_lr
    assert logged.to_dict() == pytest.approx({0: run.lr, 20: seen[19], 40: seen[39]}, rel=1e-12)
    if schedule == "cosine":
        assert seen[20] == pytest.approx(run.lr / 2)
    if schedule == "step":
        assert (seen[19], seen[20], seen[30]) == pytest.approx((run.lr, run.lr / 10, run.lr / 100))


def test_eval_subset_is_fixed_and_class_balanced():
    from gcnc.study.data.prepared import Split
    from gcnc.study.pretraining.evaluation import eval_subset

    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 3 + [3] * 1)
    x = torch.arange(len(y)).float()[:, None]
    sub = eval_subset(Split(x, y), 40)
    assert torch.bincount(sub.y).tolist() == [10, 10, 3, 1]  # n // k each, or all a class has
    assert torch.equal(y[sub.x.flatten().long()], sub.y)  # rows are rows of the split
    assert len(set(sub.x.flatten().tolist())) == len(sub.y)  # without repetition
    again = eval_subset(Split(x, y), 40)
    assert torch.equal(sub.x, again.x)
    assert torch.bincount(eval_subset(Split(x, y), 4).y).tolist() == [1, 1, 1, 1]  # at least 1


# ---- checkpoints bound to what made them (TESTING.md lists every case) ----


def run_twice(first, second, preset_first, preset_second, out, capsys, data=(None, None)):
    """Train ``first`` into ``out``, then ``second`` into the same folder; the second's log."""
    pretrain(first, data[0], preset_first, out, progress=False)
    capsys.readouterr()
    pretrain(second, data[1], preset_second, out, progress=False)
    return capsys.readouterr().out


def same_run(a: Path, b: Path) -> None:
    pd.testing.assert_frame_equal(metrics(a), metrics(b))
    wa, wb = (torch.load(p / "final.pt", weights_only=True) for p in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.parametrize(
    "where, key, value, said",
    [
        ("training", "momentum", 0.5, "training/momentum: 0.9 -> 0.5"),
        ("run", "steps", 80, "run/steps: 60 -> 80"),
        ("run", "steps", 40, "run/steps: 60 -> 40"),
        ("run", "lr_schedule", "cosine", "run/lr_schedule: constant -> cosine"),
        ("run", "model", {"width": 16}, "run/model/width: <unset> -> 16"),
        ("metrics", "gc_probes", 4, "metrics/gc_probes: 8 -> 4"),
    ],
)
def test_changed_setting_discards_checkpoints_and_trains_fresh(
    digits, config, tmp_path, capsys, where, key, value, said
):
    old_preset = config["presets"]["smoke"]
    new_preset, new_spec = copy.deepcopy(old_preset), spec(gc_reg=0.0)
    if where == "run":
        new_spec = spec(gc_reg=0.0, **{key: value})
    else:
        new_preset[where][key] = value
    log = run_twice(
        spec(gc_reg=0.0), new_spec, old_preset, new_preset, tmp_path / "a", capsys, (digits,) * 2
    )
    assert "discarding the checkpoints" in log and said in log and "resuming" not in log
    pretrain(new_spec, digits, new_preset, tmp_path / "clean", progress=False)
    same_run(tmp_path / "a", tmp_path / "clean")
    config_json = json.loads((tmp_path / "a" / "config.json").read_text())
    ckpt = torch.load(sorted((tmp_path / "a" / "checkpoints").glob("*.pt"))[-1], weights_only=True)
    assert config_json["fingerprint"] == ckpt["fingerprint"]


def test_result_neutral_settings_and_device_keep_the_checkpoints(digits, config, tmp_path, capsys):
    preset = copy.deepcopy(config["presets"]["smoke"])
    changed = copy.deepcopy(preset)
    changed["training"].update(checkpoint_every=10, keep_checkpoints=1)
    changed["device"] = "cpu:0"  # another device string: not part of the fingerprint
    log = run_twice(spec(), spec(), preset, changed, tmp_path / "a", capsys, (digits,) * 2)
    assert "resuming" in log and "discarding" not in log


def test_regenerated_data_trains_fresh_only_when_the_data_differ(cfg, digits, tmp_path, capsys):
    from gcnc.study.data import load_prepared, prepare_dataset

    preset = cfg["presets"]["smoke"]
    prepare_dataset("digits", cfg, tmp_path / "same")  # the same data, prepared again
    same = load_prepared(tmp_path / "same")
    assert same.fingerprint == digits.fingerprint
    log = run_twice(spec(), spec(), preset, preset, tmp_path / "a", capsys, (digits, same))
    assert "resuming" in log and "discarding" not in log
    cfg["datasets"]["digits"]["seed"] = 1  # another train/test split
    prepare_dataset("digits", cfg, tmp_path / "other")
    other = load_prepared(tmp_path / "other")
    log = run_twice(spec(), spec(), preset, preset, tmp_path / "b", capsys, (digits, other))
    assert "discarding the checkpoints" in log and "data: " in log
    pretrain(spec(), other, preset, tmp_path / "clean", progress=False)
    same_run(tmp_path / "b", tmp_path / "clean")


def test_divergence_records_the_step_whose_loss_was_non_finite(
    digits, config, monkeypatch, tmp_path
):
    from gcnc.study.pretraining import pretrain as runner

    real, calls = runner.train_loss, {"n": 0}

    def loss_inf_at_37(*args, **kwargs):
        calls["n"] += 1
        loss, total = real(*args, **kwargs)
        return (loss, total * float("inf")) if calls["n"] == 37 else (loss, total)

    monkeypatch.setattr(runner, "train_loss", loss_inf_at_37)
    summary = pretrain(spec(), digits, config["presets"]["smoke"], tmp_path, progress=False)
    assert summary["status"] == "diverged" and summary["steps_done"] == 37
    assert pd.read_csv(tmp_path / "metrics.csv").step.max() == 20  # the last logged step


def test_channels_last_run_matches_the_default_layout_and_resumes(
    digits, config, tmp_path, monkeypatch
):
    """A CPU image run trains in channels_last (gcnc.study.pretraining.sgd.memory_format); its
    first steps
    agree with the default layout to float rounding (later, SGD amplifies the rounding, as with
    any change of summation order), and a killed run resumes to the identical result."""
    import gcnc.study.pretraining.pretrain as runner
    import gcnc.study.pretraining.sgd as training

    preset = config["presets"]["smoke"]
    small = {"arch": "vgg_small", "model": {"width": 2}, "gc_reg": 0.0, "steps": 40}
    run = RunSpec(**{**spec().to_dict(), **small})
    cpu = torch.device("cpu")
    assert training.memory_format(run, cpu, digits.train.x) == torch.channels_last
    penalised = RunSpec(**{**run.to_dict(), "gc_reg": 0.1})  # double backward: slower in it
    assert training.memory_format(penalised, cpu, digits.train.x) == torch.contiguous_format
    pretrain(run, digits, preset, tmp_path / "last", progress=False)

    short = RunSpec(**{**run.to_dict(), "steps": 2})
    pretrain(short, digits, preset, tmp_path / "short", progress=False)
    with monkeypatch.context() as plain:
        plain.setattr(runner, "memory_format", lambda *a: torch.contiguous_format)
        pretrain(short, digits, preset, tmp_path / "plain", progress=False)
    pd.testing.assert_frame_equal(
        metrics(tmp_path / "short"), metrics(tmp_path / "plain"), rtol=1e-4, atol=1e-7
    )

    calls, original = {"n": 0}, torch.optim.SGD.step

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    with monkeypatch.context() as dying:
        dying.setattr(torch.optim.SGD, "step", dying_step)
        with pytest.raises(KeyboardInterrupt):
            pretrain(run, digits, preset, tmp_path / "killed", progress=False)
    pretrain(run, digits, preset, tmp_path / "killed", progress=False)
    same_run(tmp_path / "last", tmp_path / "killed")
