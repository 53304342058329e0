"""End to end: the smoke preset through Snakemake and DVC in a temp copy of the repository;
config errors stop the run before any job; the paper preset plans its full grid without data."""

from __future__ import annotations

import filecmp
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from gcnc.config import expand_runs, load_config
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


REPORT_LINKS = "[...document.querySelectorAll('a[href^=\"javascript:app.setView\"]')]"
SHOWN_IMAGE = (  # the image the report shows, once decoded: natural size, box, window size
    "(() => { const i = document.querySelector('#app div.grow img');"
    " if (!i || !i.complete || !i.naturalWidth) return null; const r = i.getBoundingClientRect();"
    " return [i.naturalWidth, i.naturalHeight, r.left, r.top, r.right, r.bottom,"
    " innerWidth, innerHeight]; })()"
)


@pytest.mark.slow
def test_report_shows_figures_claims_and_tables_in_a_browser(smoke_project, tmp_path):
    """Issue 17 item 4: `snakemake --report`, opened in headless Chromium. The landing page links
    every figure, table and the claims; one click on a figure shows its PNG, whole on screen,
    beside a caption with its provenance (the commit read from its sidecar, the config hash, the
    command that reproduces it); one click on the claims or a table shows it as an HTML page
    (rendered text checked), never a download. Screenshots are left in the test's tmp_path."""
    import pandas as pd

    from tests.report_browser import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.skip("needs chromium (Debian: apt-get install chromium)")
    style = ["--report-stylesheet", "workflow/report/style.css"]
    run(["snakemake", "--report", "report.html", *style, "--config", "preset=smoke"], smoke_project)
    url = (smoke_project / "report.html").as_uri()
    figs = smoke_project / "paper_figures" / "smoke"
    figures = sorted(p.name.removesuffix(".pdf") for p in figs.glob("*.pdf"))
    tables = sorted(p.stem for p in figs.glob("table_*.csv"))  # every table the preset makes
    assert {"table_bounds", "table_poincare", "table_terminal_phase"} <= set(tables)
    shown_as_html = {  # item -> what its rendered page must say: every claim, the tables' columns
        "claims": list(pd.read_csv(figs / "claims.csv").claim),
        **{t: list(pd.read_csv(figs / f"{t}.csv").columns) for t in tables},
    }

    with Browser(tmp_path / "chromium") as browser:

        def open_from_landing(text: str) -> None:  # one click, from a freshly loaded report
            browser.open(url)
            browser.wait_for(f"{REPORT_LINKS}.length")
            browser.eval(f"{REPORT_LINKS}.find(a => a.textContent.startsWith('{text}')).click()")

        def caption() -> str:
            return " ".join(browser.eval("document.querySelector('nav').innerText").split())

        browser.open(url)
        links = browser.wait_for(f"{REPORT_LINKS}.map(a => a.textContent)")
        browser.screenshot(tmp_path / "landing.png")
        assert len(links) == len(figures) + len(shown_as_html), links
        for name in [*figures, *shown_as_html]:
            assert any(link.startswith(name) for link in links), name
        mimes = browser.eval("Object.values(results).map(r => r.mime_type)")
        assert set(mimes) == {"image/png", "text/html"}, mimes

        for name in figures:
            open_from_landing(f"{name} - ")
            width, height, left, top, right, bottom, view_w, view_h = browser.wait_for(SHOWN_IMAGE)
            browser.screenshot(tmp_path / f"{name}.png")
            png = (figs / f"{name}.png").read_bytes()  # its header holds width and height
            assert (width, height) == tuple(int.from_bytes(png[i : i + 4]) for i in (16, 20))
            assert 0 <= left < right <= view_w and 0 <= top < bottom <= view_h, name  # whole
            assert max((right - left) / view_w, (bottom - top) / view_h) > 0.5, name  # large
            prov = json.loads((figs / f"{name}.prov.json").read_text())
            tree = "dirty" if prov["git"]["dirty"] else "clean"
            for part in (
                f"commit {prov['git']['commit'][:12]} ({tree} tree)",
                f"config sha256 {prov['config_sha256']}",
                f"snakemake --cores 1 --forcerun figure --config preset=smoke -- "
                f"paper_figures/smoke/{name}.png",
            ):
                assert part in caption(), (name, part)

        for name, parts in shown_as_html.items():
            open_from_landing(name)
            text = " ".join(browser.wait_frame_text(parts[0]).split())
            browser.screenshot(tmp_path / f"{name}.png")
            for part in parts:
                assert part in text, (name, part)
            assert "Provenance" in caption() and f"-- paper_figures/smoke/{name}.html" in caption()
