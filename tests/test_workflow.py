"""End to end: the smoke preset through Snakemake and DVC in a temp copy of the repository;
config errors stop the run before any job; the paper preset plans its full grid without data."""

from __future__ import annotations

import filecmp
import html
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gcnc.study.config import load_config
from gcnc.study.grid import expand_runs
from tests.projects import BIN, DETERMINISTIC_TABLES, copy_project, run
from tests.slurm_cluster import Cluster, Unavailable

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
def test_smoke_produces_every_figure_with_valid_provenance(smoke_project):
    config = load_config(smoke_project / "params.yaml")
    figs = smoke_project / "paper_figures" / "smoke"
    for name in (
        "fig1_gc_collapse_nc",
        "fig2_gc_sampling",
        "fig3_bound",
        "fig4_transfer",
        "figA5_learning_curves",
        "figA22_gc_regularisation",
    ):
        for ext in ("pdf", "png", "csv", "prov.json"):
            assert (figs / f"{name}.{ext}").stat().st_size > 0, name
    for name in ("claims.md", "claims.csv", "table_poincare.md", "table_bounds.md"):
        assert (figs / name).exists()
    runs = smoke_project / "results" / "smoke" / "runs"
    assert {p.name for p in runs.iterdir()} == set(expand_runs(config, "smoke"))
    res = run([str(BIN / "gcnc"), "audit", str(figs)], smoke_project)
    assert "FAIL" not in res.stdout and res.stdout.count("OK") >= 9
    dry = run(["snakemake", "-n", "--config", "preset=smoke"], smoke_project)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert "up to date" in run(["dvc", "status"], smoke_project).stdout


@pytest.mark.slow
def test_audit_fails_when_an_upstream_artifact_changes(smoke_project, tmp_path):
    proj = tmp_path / "copy"
    shutil.copytree(smoke_project, proj, symlinks=True)
    weights = next((proj / "results" / "smoke" / "runs").glob("*/final.pt"))
    weights.write_bytes(weights.read_bytes() + b"tamper")
    res = run(
        [str(BIN / "gcnc"), "audit", "paper_figures/smoke/fig1_gc_collapse_nc.pdf"],
        proj,
        check=False,
    )
    assert res.returncode == 1
    assert f"{weights.relative_to(proj)} changed" in res.stdout


@pytest.mark.slow
def test_fresh_clone_pulls_every_output_and_has_nothing_to_run(smoke_project, tmp_path):
    """Issue 16 item 8: commit dvc.lock and the remote, push; a clean clone runs `make pull`
    and gets every output byte for byte, after which Snakemake has nothing to do."""
    origin = tmp_path / "origin"
    shutil.copytree(smoke_project, origin, symlinks=True)
    run(["dvc", "remote", "add", "-d", "store", str(tmp_path / "remote")], origin)
    run(["git", "add", "dvc.lock", ".dvc/config"], origin)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "results"], origin)
    run(["dvc", "push", "-q"], origin)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "results").exists()
    run(["make", "pull", f"VENV={BIN.parent}"], clone)  # the environment `make setup` made
    for out in ["data/prepared", "results/smoke", "paper_figures/smoke"]:
        stack = [filecmp.dircmp(origin / out, clone / out)]
        while stack:
            c = stack.pop()
            assert not (c.left_only or c.right_only or c.diff_files or c.funny_files), out
            _, mismatch, errors = filecmp.cmpfiles(c.left, c.right, c.common_files, shallow=False)
            assert not mismatch and not errors
            stack.extend(c.subdirs.values())
    dry = run(["snakemake", "-n"], clone)
    assert "Nothing to be done" in dry.stdout + dry.stderr
    assert run([str(BIN / "gcnc"), "audit", "paper_figures/smoke"], clone).returncode == 0


@pytest.mark.slow
def test_paper_mini_runs_every_architecture_and_stage(tmp_path):
    """The paper preset's studies, datasets, architectures and rules end to end on a CPU, on
    fabricated files in the genuine formats (real Fashion-MNIST where installed)."""
    import pandas as pd

    proj = copy_project(tmp_path, "paper_mini")
    run(["snakemake", "--cores", "2"], proj)
    config = load_config(proj / "params.yaml")
    mini, paper = config["presets"]["paper_mini"], config["presets"]["paper"]
    runs = pd.read_csv(proj / "results" / "paper_mini" / "runs.csv")
    assert set(runs.run_id) == set(expand_runs(config, "paper_mini"))
    assert set(runs.arch) == {s["arch"] for s in paper["studies"].values()}
    assert set(runs.dataset) == {s["dataset"] for s in paper["studies"].values()}
    assert (runs.status == "ok").all() and (runs.steps_done == mini["training"]["steps"]).all()
    fewshot = pd.read_csv(proj / "results" / "paper_mini" / "fewshot.csv")
    assert set(fewshot.run_id) == set(runs[runs.task == "source"].run_id)
    assert fewshot.accuracy.between(0, 1).all()
    figs = proj / "paper_figures" / "paper_mini"
    for name in ("fig1_gc_collapse_nc", "fig2_gc_sampling", "fig3_bound", "fig4_transfer"):
        assert (figs / f"{name}.png").stat().st_size > 0, name
    for name in ("claims.md", "table_poincare.md", "table_bounds.md"):
        assert (figs / name).stat().st_size > 0, name
    prepared = proj / "data" / "fabricated" / "prepared"
    assert not (proj / "data" / "prepared").exists()  # never mixed with real prepared data
    sources = {
        d.name: json.loads((d / "meta.json").read_text()).get("raw_source", {})
        for d in prepared.iterdir()
        if (d / "meta.json").exists()
    }
    assert set(sources) == set(runs.dataset)
    if DEBIAN_FASHION_MNIST.exists():
        assert str(DEBIAN_FASHION_MNIST) in json.dumps(sources["fashion_mnist"])


@pytest.mark.gpu
@pytest.mark.slow
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_smoke_dag_on_cuda_matches_the_cpu_run(smoke_project, tmp_path):
    """The whole smoke DAG with device cuda: same runs, statuses and accuracies as on the CPU
    (floating-point results agree up to GPU rounding; exact equality is not expected)."""
    import pandas as pd

    proj = copy_project(tmp_path / "cuda", "smoke")
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace("device: cpu", "device: cuda", 1))
    run(["snakemake", "--cores", "2"], proj)
    runs = [pd.read_csv(p / "results" / "smoke" / "runs.csv") for p in (smoke_project, proj)]
    assert list(runs[0].run_id) == list(runs[1].run_id)
    assert (runs[1].status == "ok").all()
    metrics = pd.read_csv(proj / "results" / "smoke" / "metrics.csv")
    assert set(metrics.device) == {"cuda:0"} or set(metrics.device) == {"cuda"}
    cpu = pd.read_csv(smoke_project / "results" / "smoke" / "metrics.csv")
    assert (metrics.accuracy - cpu.accuracy).abs().max() < 0.05


def test_bad_config_stops_before_any_job(tmp_path):
    proj = copy_project(tmp_path, "smoke")
    params = proj / "params.yaml"
    params.write_text(params.read_text().replace("momentum: 0.9", "momentum: 0.9, epochs: 3", 1))
    res = run(["snakemake", "--cores", "1"], proj, check=False)
    assert res.returncode != 0
    assert "epochs" in res.stdout + res.stderr
    assert not (proj / "results").exists() and not (proj / "data").exists()


def test_paper_preset_plans_its_full_grid_without_data(tmp_path):
    proj = copy_project(tmp_path, "paper")
    res = run(["snakemake", "-n", "--quiet", "rules"], proj)
    config = load_config(proj / "params.yaml")
    n_runs = len(expand_runs(config, "paper"))
    counts = dict(
        line.split()[:2]
        for line in res.stdout.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    )
    assert int(counts["pretrain"]) == n_runs
    assert (
        int(counts["prepare_data"]) == 6
    )  # CIFAR-10/100, MNIST, Fashion-MNIST, CIFAR-FS, mini-ImageNet
    assert int(counts["fewshot"]) == len(  # one job per dataset with source runs
        {s.dataset for s in expand_runs(config, "paper").values() if s.task == "source"}
    )


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except (Unavailable, subprocess.CalledProcessError) as err:
        cluster.stop()
        pytest.skip(f"no real SLURM cluster on this machine: {err}")
    yield cluster
    cluster.stop()


@pytest.mark.slow
def test_smoke_on_real_slurm_matches_local_run(smoke_project, slurm, tmp_path):
    import pandas as pd

    proj = copy_project(tmp_path / "slurm", "smoke")
    profile = proj / "profiles" / "slurm" / "config.yaml"
    text = profile.read_text().replace("slurm_partition: gpu", "slurm_partition: debug")
    text = text.replace("jobs: 100", "jobs: 2").replace("latency-wait: 30", "latency-wait: 5")
    profile.write_text(text.replace("before-status-checks: 20", "before-status-checks: 3"))
    run(["snakemake", "--workflow-profile", "profiles/slurm"], proj)
    for name, drop in DETERMINISTIC_TABLES.items():
        local = pd.read_csv(smoke_project / "results" / "smoke" / name).drop(columns=drop)
        remote = pd.read_csv(proj / "results" / "smoke" / name).drop(columns=drop)
        pd.testing.assert_frame_equal(local, remote, obj=name)
    claims = [
        pd.read_csv(p / "paper_figures" / "smoke" / "claims.csv") for p in (smoke_project, proj)
    ]
    pd.testing.assert_frame_equal(*claims)
    headers = [
        p.read_text().splitlines()[0] for p in (proj / "logs" / "smoke" / "pretrain").glob("*.log")
    ]
    assert headers and all("slurm_job_id=None" not in h for h in headers)


@pytest.mark.slow
def test_report_over_the_smoke_run_shows_every_figure_with_its_provenance(smoke_project, tmp_path):
    """`make report` (gcnc report) on a finished smoke run: every figure of the preset, its
    caption and the commit of its sidecar, the claims and every table, in one file."""
    out = tmp_path / "report.html"
    run(["gcnc", "report", "--out", str(out)], smoke_project)
    page = out.read_text()
    figs = smoke_project / "paper_figures" / "smoke"
    for png in sorted(figs.glob("*.png")):
        prov = json.loads((figs / f"{png.stem}.prov.json").read_text())
        assert f"<h3>{png.stem}</h3>" in page, png.stem
        caption = html.escape(prov.get("caption", "")[:40])  # as the page writes it
        assert prov["git"]["commit"][:12] in page and caption in page, png.stem
    for table in sorted(figs.glob("table_*.md")):
        assert f">{table.stem}</h3>" in page, table.stem
    assert "The answer: the paper's central claims" in page and "id='smoke-claims'" in page
