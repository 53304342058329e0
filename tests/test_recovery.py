"""The recovery each error recommends works: `make run` rebuilds every missing output, and
following each "delete ... and rerun" message to the letter ends in results identical to a clean
run. SIGTERM to `make run` stops Snakemake and its jobs. Before any job: a missing module, no
`make setup`, no DVC remote and a schema error each say what to do. The audit catches tampering
with every kind of file. Cases: TESTING.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from gcnc.study.runner.locks import snakemake_processes
from tests.projects import BIN, ENV, copy_project, run, same_results

MAKE_RUN = ["make", "--no-print-directory", "run", "PRESET=smoke", f"VENV={BIN.parent}"]
RUNS = "results/smoke/runs"
FIG2_MODEL = "digits-mlp-full_lr~0.05_constant_bs~32_wd~0_gc~0_steps~60_seed~0"
FIG1_RUN = "digits-mlp-full_lr~0.2_constant_bs~32_wd~0_gc~0_steps~60_seed~0"
ADVICE = re.compile(  # what an error tells to delete: a file, or a prepared dataset's folder
    r"Error: (?P<file>[^\s:]+):? [^\n]*?Delete it and rerun"
    r"|Delete the folder (?P<folder>\S+) and rerun"
)


def _cut(path: Path, keep: int | None = None) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2 if keep is None else keep])


def _torn(path: Path) -> None:  # a last row written half
    path.write_bytes(path.read_bytes()[:-7])


@pytest.mark.parametrize("preset", ["smoke", "paper_mini"])
def test_every_file_of_the_dag_is_a_target_of_make_run(tmp_path, preset):
    """Snakemake rebuilds a missing file only if a target needs it: the default target asks for
    every output of every job, so a deleted intermediate result is rebuilt, never left out."""
    proj = copy_project(tmp_path, preset)
    lines = run(["snakemake", "--summary"], proj).stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    files = {line.split("\t")[0] for line in lines[header + 1 :] if "\t" in line}
    plan = run(["snakemake", "-n"], proj).stdout
    block = plan[plan.index("rule all:") :]
    targets = set(re.search(r"input: (.*)", block)[1].split(", "))
    assert files and files == targets, sorted(files ^ targets)


@pytest.mark.slow
def test_following_every_error_message_ends_as_a_clean_run(smoke_project, tmp_path):
    """Damage a prepared dataset, the Fig. 2 model's weights, a run's metrics, a per-dataset
    few-shot table and the run plan; then only run `make run` and do what each error says (delete
    the file or folder it names) until it succeeds: every damaged file was named, and every
    result equals the clean run's."""
    proj = tmp_path / "p"
    shutil.copytree(smoke_project, proj, symlinks=True)
    damages = {
        "data/prepared/gaussians/arrays.npz": _cut,
        f"{RUNS}/{FIG2_MODEL}/final.pt": lambda p: _cut(p, 300),
        f"{RUNS}/{FIG1_RUN}/metrics.csv": _cut,
        "results/smoke/fewshot/digits.csv": _torn,
        "results/smoke/plan.csv": _torn,
    }
    for path, damage in damages.items():
        damage(proj / path)
    followed: list[str] = []
    for _ in range(len(damages) + 1):
        res = run(MAKE_RUN, proj, check=False)
        if res.returncode == 0:
            break
        advice = {m["file"] or m["folder"] for m in ADVICE.finditer(res.stdout + res.stderr)}
        assert advice, res.stdout[-3000:] + res.stderr[-3000:]
        for path in sorted(advice):  # to the letter
            shutil.rmtree(proj / path) if (proj / path).is_dir() else (proj / path).unlink()
        followed += sorted(advice)
    assert res.returncode == 0, res.stdout[-3000:]
    expected = {p for p in damages if not p.startswith("data/")} | {"data/prepared/gaussians"}
    assert set(followed) == expected, followed
    same_results(smoke_project, proj)
    assert run([str(BIN / "gcnc"), "audit", "paper_figures/smoke"], proj).returncode == 0


@pytest.mark.slow
def test_sigterm_to_make_run_stops_snakemake_and_its_jobs(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    make = subprocess.Popen(MAKE_RUN, cwd=proj, env={**ENV, "OMP_NUM_THREADS": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 300
    while not list(proj.glob(f"{RUNS}/*/checkpoints/step_*.pt")):
        assert make.poll() is None and time.time() < deadline, "no checkpoint written"
        time.sleep(0.2)
    assert snakemake_processes(proj), "Snakemake and a pretraining job run"
    make.send_signal(signal.SIGTERM)  # to make alone, as `kill <pid>` does
    assert make.wait(timeout=120) != 0
    deadline = time.time() + 30
    while snakemake_processes(proj):  # Snakemake stopped its jobs, then itself
        assert time.time() < deadline, snakemake_processes(proj)
        time.sleep(0.2)
    log = max((proj / ".snakemake" / "log").glob("*.snakemake.log")).read_text()
    assert "Will exit after finishing currently running jobs" in log  # Snakemake got it


def test_a_missing_module_stops_the_run_before_any_job(tmp_path):
    """A plotting library that cannot be imported is named at the start, not at the figure jobs
    after all the training."""
    proj = copy_project(tmp_path / "p", "smoke")
    shadow = tmp_path / "shadow" / "seaborn"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no seaborn in this environment')\n")
    path = os.pathsep.join(filter(None, [str(shadow.parent), os.environ.get("PYTHONPATH")]))
    res = run(["snakemake", "--cores", "1"], proj, check=False, env={"PYTHONPATH": path})
    said = res.stdout + res.stderr
    assert res.returncode != 0
    assert "module 'seaborn' cannot be imported (ImportError: no seaborn in this " in said
    assert "src/gcnc/study/figures/" in said and "make setup" in said
    assert not (proj / "results").exists() and not (proj / "data").exists()


def test_a_schema_error_names_the_config_key(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace("momentum: 0.9", "momentum: 0.9, bogus: 3", 1))
    res = run(["snakemake", "-n"], proj, check=False)
    said = res.stdout + res.stderr
    assert res.returncode != 0 and "Failed validating" not in said
    key = "config key 'presets/smoke/training': Additional properties are not allowed ('bogus'"
    assert key in said


def test_make_run_without_setup_says_to_run_make_setup(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    path = os.pathsep.join(p for p in os.environ["PATH"].split(os.pathsep) if Path(p) != BIN)
    res = subprocess.run(["make", "run", "PRESET=smoke"], cwd=proj, capture_output=True,
                         text=True, env={**os.environ, "PATH": path})  # fmt: skip
    assert res.returncode == 2 and "run 'make setup' first" in res.stdout
    assert not (proj / ".snakemake").exists()


def test_make_pull_without_published_results_says_what_to_do(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    run(["git", "init", "-q"], proj)
    run(["dvc", "init", "-q"], proj)
    res = run(["make", "pull", f"VENV={BIN.parent}"], proj, check=False)
    assert res.returncode == 2 and "no dvc.lock" in res.stdout and "run 'make run'" in res.stdout
    (proj / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    res = run(["make", "pull", f"VENV={BIN.parent}"], proj, check=False)
    assert res.returncode == 2 and "no default DVC remote in .dvc/config" in res.stdout
    assert "dvc remote add -d" in res.stdout


@pytest.mark.slow
def test_result_neutral_settings_rerun_nothing(smoke_project, tmp_path):
    proj = tmp_path / "p"
    shutil.copytree(smoke_project, proj, symlinks=True)
    params = proj / "params.yaml"
    text = params.read_text().replace("checkpoint_every: 20,", "checkpoint_every: 30,", 1)
    params.write_text(text.replace("momentum: 0.9", "momentum: 0.9, keep_checkpoints: 2", 1))
    dry = run(["snakemake", "-n"], proj)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert run([str(BIN / "gcnc"), "audit", "paper_figures/smoke"], proj).returncode == 0


TAMPERED = [  # every kind of file upstream of the figures, the library's code included
    f"{RUNS}/{FIG1_RUN}/class_metrics.csv",
    f"{RUNS}/{FIG1_RUN}/summary.json",
    f"{RUNS}/{FIG2_MODEL}/final.pt",
    "results/smoke/class_metrics.csv",
    "results/smoke/fewshot/digits.csv",
    "results/smoke/fewshot/episodes_digits.npz",
    "data/prepared/digits/meta.json",
    "src/gcnc/study/figures/tables.py",
]


@pytest.mark.slow
def test_the_audit_catches_tampering_with_every_kind_of_file(smoke_project, tmp_path):
    proj = tmp_path / "p"
    shutil.copytree(smoke_project, proj, symlinks=True)
    figs = proj / "paper_figures" / "smoke"

    def audit() -> subprocess.CompletedProcess:
        return run([str(BIN / "gcnc"), "audit", "paper_figures/smoke"], proj, check=False)

    originals = {path: (proj / path).read_bytes() for path in TAMPERED}
    for path, original in originals.items():
        (proj / path).write_bytes(original + b"\n")
    res = audit()  # names every problem it finds
    assert res.returncode == 1
    assert not [p for p in TAMPERED if f"{p} changed" not in res.stdout], res.stdout
    for path, original in originals.items():
        (proj / path).write_bytes(original)
    assert audit().returncode == 0
    (figs / "fig1_gc_collapse_nc.prov.json").rename(tmp_path / "fig1.prov.json")
    res = audit()
    assert res.returncode == 1
    assert "no provenance sidecar for fig1_gc_collapse_nc.csv, fig1_gc_collapse_nc.pdf" in (
        res.stdout
    )
    record = json.loads((tmp_path / "fig1.prov.json").read_text())
    del record["preset"]
    (figs / "fig1_gc_collapse_nc.prov.json").write_text(json.dumps(record))
    res = audit()
    assert res.returncode == 1 and "sidecar malformed: no 'preset' entry" in res.stdout
    audited = [line for line in res.stdout.splitlines() if line.startswith("OK ")]
    assert len(audited) == len(list(figs.glob("*.prov.json"))) - 1  # all the others still
