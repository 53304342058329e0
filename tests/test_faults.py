"""Fault injection: every file the workflow reads, damaged, ends in a recovery or an error naming
the file; a killed workflow resumes to the outputs of an uninterrupted run. Cases: TESTING.md."""

from __future__ import annotations

import json
import os
import random
import re
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from gcnc.study.data import DataCorruptError, load_prepared
from gcnc.study.pretraining.pretrain import pretrain
from gcnc.study.runner.locks import lock_files, snakemake_processes, unlock_if_stale
from tests.projects import DETERMINISTIC_TABLES, ENV, ROOT, copy_project, namedlist, run
from tests.test_training import same_run, spec

SCRIPTS = ROOT / "workflow" / "scripts"


def _cut(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


def _edit_meta(p: Path) -> None:
    meta = json.loads(p.read_text())
    p.write_text(json.dumps({**meta, "scale": 8.0}))


DATA_DAMAGE = {  # case -> (file, damage, what the error says)
    "arrays_truncated": ("arrays.npz", _cut, "differs from the"),
    "arrays_garbage": ("arrays.npz", lambda p: p.write_bytes(b"garbage" * 999), "differs"),
    "arrays_bit_flip": ("arrays.npz", _flip, "truncated or altered"),
    "arrays_missing": ("arrays.npz", Path.unlink, "arrays.npz is missing"),
    "meta_garbage": ("meta.json", lambda p: p.write_text("{not json"), "not valid JSON"),
    "meta_truncated": ("meta.json", _cut, "not valid JSON"),
    "meta_not_metadata": ("meta.json", lambda p: p.write_text("[1, 2]"), "not the metadata"),
    "meta_altered": ("meta.json", _edit_meta, "does not match the sha256"),
    "meta_missing": ("meta.json", Path.unlink, "meta.json is missing"),
}


@pytest.mark.parametrize("case", sorted(DATA_DAMAGE))
def test_damaged_prepared_data_names_the_file(prepared_dir, tmp_path, case):
    name, damage, says = DATA_DAMAGE[case]
    folder = tmp_path / "digits"
    shutil.copytree(prepared_dir / "digits", folder)
    damage(folder / name)
    with pytest.raises(DataCorruptError) as err:
        load_prepared(folder)
    message = str(err.value)
    assert str(folder / name) in message and says in message
    assert f"Delete the folder {folder} and rerun" in message


def test_prepared_data_without_checksums_still_loads_and_is_checked(prepared_dir, tmp_path):
    """Data prepared before checksums were recorded: same fingerprint; damage still named."""
    folder = tmp_path / "digits"
    shutil.copytree(prepared_dir / "digits", folder)
    meta = json.loads((folder / "meta.json").read_text())
    del meta["integrity"]
    (folder / "meta.json").write_text(json.dumps(meta))
    assert load_prepared(folder).fingerprint == load_prepared(prepared_dir / "digits").fingerprint
    _cut(folder / "arrays.npz")
    with pytest.raises(DataCorruptError, match=r"arrays\.npz: unreadable \(BadZipFile"):
        load_prepared(folder)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "not_a_checkpoint", "all", "legacy"])
def test_damaged_checkpoints_fall_back_or_start_fresh(digits, config, tmp_path, capsys, damage):
    preset = config["presets"]["smoke"]
    pretrain(spec(), digits, preset, tmp_path / "clean", progress=False)
    out = tmp_path / "a"
    pretrain(spec(), digits, preset, out, progress=False)
    ckpts = sorted((out / "checkpoints").glob("step_*.pt"))  # steps 20, 40, 60
    newest = ckpts[-1]
    if damage == "truncate":
        _cut(newest)
    elif damage == "garbage":
        newest.write_bytes(b"\x00garbage" * 100)
    elif damage == "not_a_checkpoint":
        torch.save({"weights": torch.zeros(2)}, newest)
    elif damage == "all":
        for p in ckpts:
            p.write_bytes(p.read_bytes()[:100])
    else:  # a checkpoint of the code before fingerprints: no record of its settings
        state = torch.load(newest, weights_only=True)
        torch.save({k: v for k, v in state.items() if k not in ("fingerprint", "settings")}, newest)
    capsys.readouterr()
    pretrain(spec(), digits, preset, out, progress=False)
    log = capsys.readouterr().out
    if damage == "legacy":
        assert "discarding the checkpoints" in log and "older checkpoint" in log
    else:
        assert "skipping unusable checkpoint" in log and str(newest) in log
        assert ("resuming" in log) == (damage != "all")
        assert damage == "all" or "step 40" in log
    same_run(out, tmp_path / "clean")


def test_truncated_final_weights_are_named_and_rebuilt(digits, config, tmp_path):
    from gcnc.study.pretraining.checkpoints import CheckpointError, load_weights

    preset = config["presets"]["smoke"]
    pretrain(spec(), digits, preset, tmp_path / "clean", progress=False)
    out = tmp_path / "a"
    pretrain(spec(), digits, preset, out, progress=False)
    final = out / "final.pt"
    final.write_bytes(final.read_bytes()[:200])
    with pytest.raises(CheckpointError, match=f"cannot read {final}.*Delete it and rerun"):
        load_weights(final)
    final.unlink()  # what the message says; the pretrain rule then reruns
    with pytest.raises(CheckpointError, match=f"{final} is missing"):
        load_weights(final)
    pretrain(spec(), digits, preset, out, progress=False)
    same_run(out, tmp_path / "clean")


# ---- diverged runs are flagged and left out downstream ----


def test_diverged_run_few_shot_rows_are_flagged_and_left_out(digits, tmp_path):
    from gcnc.study.theory.bounds import bounds_table
    from gcnc.study.transfer.fewshot import evaluate_transfer, sample_episodes

    cfg = {"ways": [5], "shots": [1], "queries": 3, "episodes": 4, "seed": 0}
    cfg |= {"classifiers": ["ncm", "logreg"], "finetune_steps": 0}
    episodes = sample_episodes(digits.view("target", "all").y.numpy(), cfg)
    src = tmp_path / "metrics.csv"
    row = {"split": "train", "step": 6, "gc": 1.0, "nc": 2.0}
    pd.DataFrame([row | {"geometric_collapse": 3.0, "cdnv_max": 4.0}]).to_csv(src, index=False)
    run = spec(task="source", steps=6)
    table = evaluate_transfer(None, run, digits, episodes, cfg, {}, 30, src, "diverged")
    assert len(table) == 2 and (table.status == "diverged").all()
    assert table[["accuracy", "target_nc"]].isna().all().all() and (table.episodes == 4).all()
    # a: its own rows say diverged; c: runs.csv says diverged; only b is used
    cases = [("a", "diverged"), ("b", "ok"), ("c", "ok")]
    one = table.iloc[:1].assign(target_nc=0.5)
    fewshot = pd.concat([one.assign(run_id=r, status=s) for r, s in cases])
    runs = pd.DataFrame({"run_id": ["a", "b", "c"], "status": ["ok", "ok", "diverged"]})
    poincare = pd.DataFrame(
        [{"dataset": "digits", "class": "max", "method": "m", "estimate": 1.0, "true_value": None}]
    )
    columns = ["run_id", "step", "split", "task", "dataset", "seed", "gc_estimator", "nc"]
    columns += ["geometric_collapse", "ncm_accuracy", "gc_max", "inv_dist_sum"]
    metrics = pd.DataFrame(columns=columns)
    classes = pd.DataFrame(columns=["run_id", "step", "split", "class", "n"])
    bounds = bounds_table(metrics, classes, runs, poincare, fewshot, delta=0.05)
    assert set(bounds[bounds.bound == "prop5.1"].run_id) == {"b"}


def test_claims_leave_out_diverged_runs(tmp_path):
    from gcnc.study.claims.catalogue import SOURCE_GC_TARGET_NC, knob_claim
    from gcnc.study.claims.paper import claims_table
    from tests.claims_world import write_world

    inputs = write_world(tmp_path)
    runs = pd.read_csv(inputs["runs"])
    runs.loc[runs.run_id.str.contains("_lr~0.01_"), "status"] = "diverged"  # 3 seeds
    runs.to_csv(inputs["runs"], index=False)
    fewshot = pd.read_csv(inputs["fewshot"])
    fewshot.loc[fewshot.run_id.str.contains("_lr~0.2_").idxmax(), "status"] = "diverged"
    fewshot.to_csv(inputs["fewshot"], index=False)
    table = claims_table(inputs, {"bootstrap": 50, "seed": 0}, "x").set_index("claim")
    assert table.loc[knob_claim("lr", "gc").text, "n_runs"] == 6
    assert table.loc[SOURCE_GC_TARGET_NC.text, "n_runs"] == 21 - 3 - 1


def test_diverged_fig2_model_stops_gc_sampling_naming_the_run(digits, prepared_dir, tmp_path):
    run = spec(gc_reg=0.0)
    summary, final = tmp_path / "summary.json", tmp_path / "final.pt"
    summary.write_text(json.dumps({"status": "diverged", "steps_done": 7}))
    final.write_bytes(b"weights")
    data = [str(prepared_dir / "digits" / name) for name in ("arrays.npz", "meta.json")]
    snakemake = SimpleNamespace(
        input=namedlist(final=str(final), summary=str(summary), data=data),
        output=[str(tmp_path / "out.csv")],
        log=[str(tmp_path / "gc_sampling.log")],
        params=SimpleNamespace(spec=run.to_dict(), sampling={}, device="cpu"),
    )
    with pytest.raises(RuntimeError, match=rf"{re.escape(run.run_id)}.*step 7.*gc_sampling/study"):
        runpy.run_path(str(SCRIPTS / "gc_sampling.py"), init_globals={"snakemake": snakemake})


# ---- stale Snakemake locks (gcnc.study.runner.locks, `make run`) ----


def _locked_dir(tmp_path: Path) -> Path:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "Snakefile").write_text("rule all:\n    input: []\n")
    (tmp_path / ".snakemake" / "locks").mkdir(parents=True)
    (tmp_path / ".snakemake" / "locks" / "0.output.lock").write_text(f"{tmp_path}/out.txt\n")
    return tmp_path


def test_no_lock_means_nothing_to_do(tmp_path, capsys):
    assert unlock_if_stale(tmp_path) == 0
    assert "nothing to unlock" in capsys.readouterr().out


def test_stale_lock_without_a_live_snakemake_is_unlocked(tmp_path):
    proj = _locked_dir(tmp_path)
    # the shell running this recipe line has "snakemake" in its command line: an ancestor
    cmd = f"{sys.executable} -m gcnc.study.runner.locks --directory {proj}; : snakemake"
    res = subprocess.run(["sh", "-c", cmd], cwd=proj, env=ENV, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "stale lock" in res.stdout and "unlocked" in res.stdout and not lock_files(proj)


def _sleeper(cwd: Path, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", *args], cwd=cwd)
    cmdline = Path(f"/proc/{proc.pid}/cmdline")
    while b"snakemake" not in cmdline.read_bytes():  # Popen may return mid-execve
        time.sleep(0.01)
    return proc


def test_live_snakemake_in_the_directory_keeps_its_lock(tmp_path, capsys):
    proj = _locked_dir(tmp_path / "p")
    (tmp_path / "elsewhere").mkdir()
    dummies = [
        _sleeper(proj, "snakemake"),  # runs in the project: counts
        _sleeper(tmp_path / "elsewhere", "snakemake", f"--directory={proj}"),  # counts
        _sleeper(tmp_path / "elsewhere", f"{proj}/.venv/bin/snakemake"),  # elsewhere: not
    ]
    try:
        assert {pid for pid, _ in snakemake_processes(proj)} == {d.pid for d in dummies[:2]}
        assert unlock_if_stale(proj) == 0
        out = capsys.readouterr().out
        assert f"another Snakemake is running in {proj} (pid {dummies[0].pid}" in out
        assert "not unlocking" in out and lock_files(proj)
    finally:
        for d in dummies:
            d.kill()
            d.wait()


def test_a_tail_of_a_snakemake_log_does_not_keep_a_stale_lock(tmp_path):
    """`tail -f .snakemake/log/...` in the project has "snakemake" in its arguments, but it is
    not a Snakemake: the stale lock is still removed."""
    proj = _locked_dir(tmp_path)
    log = Path(".snakemake") / "log" / "2026-12-07T000000.000000.snakemake.log"
    (proj / log).parent.mkdir()
    (proj / log).write_text("Building DAG of jobs...\n")
    tail = subprocess.Popen(["tail", "-f", str(log)], cwd=proj, stdout=subprocess.DEVNULL)
    try:
        while b"tail" not in Path(f"/proc/{tail.pid}/cmdline").read_bytes():
            time.sleep(0.01)
        assert snakemake_processes(proj) == []
        res = run([sys.executable, "-m", "gcnc.study.runner.locks", "--directory", str(proj)], proj)
        assert "stale lock" in res.stdout and "unlocked" in res.stdout and not lock_files(proj)
    finally:
        tail.kill()
        tail.wait()


def test_make_run_unlocks_a_stale_lock_then_reruns_incomplete_jobs():
    # --no-print-directory: under `make test` this make is nested and would announce its directory
    res = run(["make", "--no-print-directory", "-n", "run", "PRESET=smoke"], ROOT)
    lines = [x for x in res.stdout.splitlines() if x.startswith("python ")]  # not the checks
    assert lines[0] == "python -m gcnc.study.runner.locks -- --config preset=smoke"
    assert lines[1].startswith("python -m gcnc.study.runner.console -- ")
    assert "--rerun-incomplete" in lines[1]


# ---- whole workflows (slow): smoke preset in temp copies ----

KILL_TARGETS = [f"results/smoke/{t}.csv" for t in ("metrics", "poincare")]  # pretraining,
# collection and the Poincare table (reads runs.csv)
TABLES = ["metrics.csv", "class_metrics.csv", "runs.csv", "poincare.csv"]


def smake(proj: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run(["snakemake", "--cores", "2", *args], proj, check=check)


def same_tables(a: Path, b: Path, tables: list[str] = TABLES) -> None:
    for name in tables:
        drop = DETERMINISTIC_TABLES[name]
        left, right = (
            pd.read_csv(p / "results" / "smoke" / name).drop(columns=drop) for p in (a, b)
        )
        pd.testing.assert_frame_equal(left, right, obj=name)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_then_make_style_resume_matches_an_uninterrupted_run(smoke_project, tmp_path, seed):
    proj = copy_project(tmp_path, "smoke")
    cmd = ["snakemake", "--cores", "2", *KILL_TARGETS]
    proc = subprocess.Popen(cmd, cwd=proj, env={**ENV, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip
    deadline = time.time() + 300
    while not list(proj.glob("results/smoke/runs/*/checkpoints/step_*.pt")):
        assert proc.poll() is None and time.time() < deadline, "no checkpoint written"
        time.sleep(0.2)
    time.sleep(random.Random(seed).uniform(0, 20))  # a random point of the pretraining stage
    assert proc.poll() is None, "finished before the kill"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while snakemake_processes(proj):  # the whole group: no job survives the kill
        assert time.time() < deadline, snakemake_processes(proj)
        time.sleep(0.1)
    assert lock_files(proj)
    if seed == 0:  # the symptom: a plain rerun stops at the stale lock
        res = smake(proj, "--rerun-incomplete", *KILL_TARGETS, check=False)
        assert res.returncode != 0 and "LockException" in res.stdout + res.stderr
    locks = [sys.executable, "-m", "gcnc.study.runner.locks"]
    unlock = run([*locks, "--", "--config", "preset=smoke"], proj)
    assert "unlocked" in unlock.stdout
    smake(proj, "--rerun-incomplete", *KILL_TARGETS)
    same_tables(smoke_project, proj)


@pytest.mark.slow
def test_garbage_params_yaml_stops_before_any_job(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    (proj / "params.yaml").write_text("preset: smoke\npresets: {smoke: [unclosed\n  x: : y\n")
    res = smake(proj, check=False)
    assert res.returncode != 0 and "config file params.yaml: not valid YAML at line" in res.stderr
    assert not (proj / "results").exists() and not (proj / "data").exists()
