"""Sidecars record every input, every file upstream of it (found through the results' records),
the code (script, function, the whole gcnc package) and the preset's config; the audit re-checks
all of it from the checkout that holds the sidecar, names what changed, fails a figure without
a sidecar or with a malformed one by name while auditing the others, and ends with a summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

import gcnc
from gcnc.cli import main
from gcnc.study.config import config_hash, preset_config, workflow_config
from gcnc.study.results.audit import audit, audit_targets
from gcnc.study.results.provenance import write_sidecar
from gcnc.study.results.records import write_record

ROOT = Path(__file__).resolve().parents[1]
FIGS = Path("paper_figures/quick")
RUN = "results/quick/runs/r"
DATA = "data/prepared/d/meta.json"
RESULTS = {  # result file -> the inputs its record names (as the workflow writes them)
    f"{RUN}/class_metrics.csv": [DATA],
    f"{RUN}/summary.json": [DATA],
    f"{RUN}/final.pt": [DATA],
    "results/quick/fewshot/d.csv": [f"{RUN}/final.pt", f"{RUN}/summary.json", DATA],
    "results/quick/class_metrics.csv": [f"{RUN}/class_metrics.csv", f"{RUN}/summary.json"],
    "results/quick/fewshot.csv": ["results/quick/fewshot/d.csv"],
}
INPUTS = ["results/quick/class_metrics.csv", "results/quick/fewshot.csv"]


def draw(x: int) -> int:
    """Stands in for the gcnc function that computed a figure."""
    return x


def _sidecar(repo: Path, name: str) -> Path:
    """Draw figure ``name`` from INPUTS (its run's weights upstream) and write its sidecar."""
    (repo / FIGS / f"{name}.pdf").write_text("%PDF")
    config = workflow_config(yaml.safe_load((repo / "params.yaml").read_text()))
    write_sidecar(
        [str(FIGS / f"{name}.pdf")],
        INPUTS,
        [f"{RUN}/final.pt", DATA],
        preset="quick",
        config_sha256=config_hash(preset_config(config, "quick")),
        rule="figure",
        function=draw,
        path=repo / FIGS / f"{name}.prov.json",
    )
    return repo / FIGS / f"{name}.prov.json"


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A checkout (Snakefile, the real params.yaml, the figure script, a copy of the gcnc
    package) with results chained by their records to a prepared dataset made from a raw file
    outside it, and one figure drawn from them."""
    repo = tmp_path / "repo"
    (repo / "workflow" / "scripts").mkdir(parents=True)
    (repo / "Snakefile").write_text("# marker\n")
    (repo / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (repo / "workflow" / "scripts" / "figure.py").write_text("print('figure')\n")
    package = repo / "src" / "gcnc"
    shutil.copytree(Path(gcnc.__file__).parent, package, ignore=shutil.ignore_patterns("__pyc*"))
    monkeypatch.setattr(gcnc, "__file__", str(repo / "src" / "gcnc" / "__init__.py"))
    raw = tmp_path / "raw_source"
    raw.mkdir()
    (raw / "train-images.gz").write_bytes(b"raw bytes")
    meta = {
        "raw_source": {"path": str(raw)},
        "raw_files": {"Set/raw/train-images.gz": _sha(b"raw bytes"), "images/": "x"},
    }
    (repo / DATA).parent.mkdir(parents=True)
    (repo / DATA).write_text(json.dumps(meta))
    (repo / FIGS).mkdir(parents=True)
    monkeypatch.chdir(repo)
    for path, inputs in RESULTS.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"content of {path}\n")
        write_record(path, inputs)
    _sidecar(repo, "fig")
    return repo


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_sidecar_records_code_command_and_every_upstream_file(checkout):
    record = json.loads((checkout / FIGS / "fig.prov.json").read_text())
    assert record["script"] == {
        "path": "workflow/scripts/figure.py",
        "sha256": _sha(b"print('figure')\n"),
    }
    assert record["function"]["name"] == "tests.test_provenance.draw"
    assert record["function"]["sha256"] == _sha(Path(__file__).read_bytes())
    assert record["reproduce"] == (
        "snakemake --cores 1 --forcerun figure --config preset=quick -- "
        "paper_figures/quick/fig.pdf"
    )
    # everything the inputs were made from, through the records: class metrics, summary,
    # few-shot CSV, weights, the prepared data
    assert set(record["upstream"]) == set(RESULTS) - set(INPUTS) | {DATA}
    package = record["package"]
    assert package["path"] == "src/gcnc" and "study/results/records.py" in package["files"]
    raw = record["raw_data"]
    assert raw["Set/raw/train-images.gz"]["path"].endswith("raw_source/train-images.gz")
    assert raw["images/"]["path"] is None  # a digest over a folder: recorded, not re-hashable
    result = audit(FIGS / "fig.pdf")
    assert result.problems == [] and result.unchecked == ["images/"]
    # artifact, 2 inputs, 5 upstream, 1 raw file, script, function, every package file
    assert result.checked == 11 + len(package["files"])


def test_audit_from_outside_the_checkout_ends_with_a_summary(checkout, capsys, monkeypatch):
    monkeypatch.chdir(checkout.parent)
    assert main(["audit", str(checkout / FIGS)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "missing" not in out
    assert out.splitlines()[-2].startswith("audit: 1 sidecars, ")
    assert out.splitlines()[-2].endswith(" files re-hashed, 0 with problems - all OK")


def _edit(path: str) -> object:
    return lambda r: (r / path).write_text("edited\n")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_edit(f"{RUN}/final.pt"), f"upstream: {RUN}/final.pt changed"),
        (_edit(f"{RUN}/class_metrics.csv"), f"upstream: {RUN}/class_metrics.csv changed"),
        (_edit(f"{RUN}/summary.json"), f"upstream: {RUN}/summary.json changed"),
        (_edit("results/quick/fewshot/d.csv"), "upstream: results/quick/fewshot/d.csv changed"),
        (_edit(DATA), f"upstream: {DATA} changed"),
        (_edit(INPUTS[0]), f"inputs: {INPUTS[0]} changed"),
        (lambda r: (r / INPUTS[1]).unlink(), f"inputs: {INPUTS[1]} is missing"),
        (lambda r: (r.parent / "raw_source" / "train-images.gz").write_text("x"), "raw_data: "),
        (
            lambda r: (r / "workflow/scripts/figure.py").write_text("print(2)\n"),
            "script (code changed since): workflow/scripts/figure.py changed",
        ),
        (
            lambda r: (r / "src/gcnc/study/results/records.py").write_text("# edited\n"),
            "package (code changed since): src/gcnc/study/results/records.py changed",
        ),
        (
            lambda r: (r / "src/gcnc/extra.py").write_text("# new\n"),
            "package (code changed since): src/gcnc/extra.py is new",
        ),
        (
            lambda r: (r / "src/gcnc/metrics/gc.py").unlink(),
            "package (code changed since): src/gcnc/metrics/gc.py is missing",
        ),
        (
            lambda r: (r / "params.yaml").write_text(
                (r / "params.yaml").read_text().replace("steps: 1500", "steps: 1400", 1)
            ),
            "config: params.yaml's preset 'quick' differs",
        ),
        (lambda r: (r / "params.yaml").write_text("preset: [\n"), "config: config file"),
    ],
    ids=[
        "weights",
        "class-metrics",
        "summary",
        "fewshot-csv",
        "prepared-data",
        "collected-table",
        "input-deleted",
        "raw",
        "script",
        "package-file",
        "package-new-file",
        "package-file-deleted",
        "params",
        "params-unreadable",
    ],
)
def test_audit_names_what_changed(checkout, capsys, tamper, expected):
    tamper(checkout)
    problems = audit(FIGS / "fig.pdf").problems
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert main(["audit", str(FIGS / "fig.pdf")]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 with problems" in out


def test_another_presets_edit_leaves_the_audit_clean(checkout):
    params = checkout / "params.yaml"
    text = params.read_text()
    assert "steps: 1500" in text  # quick's steps
    config = yaml.safe_load(text)
    config["presets"]["paper"]["device"] = "cpu"
    config["presets"]["quick"]["training"]["checkpoint_every"] = 7  # result-neutral
    params.write_text(yaml.safe_dump(config))
    assert audit(FIGS / "fig.pdf").problems == []


def test_missing_sidecar_is_a_failure_not_a_traceback(checkout, capsys):
    assert main(["audit", "nothing.pdf"]) == 1
    assert "no readable provenance sidecar" in capsys.readouterr().out


def test_figure_without_sidecar_fails_the_folder_audit(checkout, capsys):
    _sidecar(checkout, "fig2")
    (checkout / FIGS / "fig.prov.json").unlink()
    results = audit_targets([FIGS])
    assert [r.problems == [] for r in results] == [True, False]
    assert results[1].problems[0].startswith(
        "no provenance sidecar for fig.pdf: fig.prov.json is missing; rerun make run"
    )
    assert main(["audit", str(FIGS)]) == 1
    assert "FAIL paper_figures/quick/fig.prov.json" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda r: r.pop("preset"), "malformed: no 'preset' entry"),
        (lambda r: r.update(upstream=["a list"]), "malformed: no 'upstream' entry"),
        (lambda r: r["script"].pop("sha256"), "malformed: 'script' has no sha256"),
        (lambda r: r.update(package={"path": "src/gcnc"}), "malformed: 'package' has no files"),
        (lambda r: r["raw_data"].update(x=3), "malformed: 'raw_data/x' has no sha256"),
        (None, "not valid JSON"),
    ],
    ids=["no-preset", "upstream-list", "script-digest", "package", "raw-data", "not-json"],
)
def test_malformed_sidecar_fails_by_name_and_the_others_are_audited(checkout, capsys, damage, says):
    bad = _sidecar(checkout, "fig0")
    record = json.loads(bad.read_text())
    if damage is None:
        bad.write_text(json.dumps(record)[:-20])
    else:
        damage(record)
        bad.write_text(json.dumps(record))
    good, broken = audit_targets([FIGS])
    assert (good.sidecar.name, broken.sidecar.name) == ("fig.prov.json", "fig0.prov.json")
    assert broken.problems[0].startswith(f"sidecar {says}")
    assert "delete it and rerun make run" in broken.problems[0]
    assert good.problems == [] and good.checked > 0  # still audited
    assert main(["audit", str(FIGS)]) == 1
    out = capsys.readouterr().out
    assert "FAIL paper_figures/quick/fig0.prov.json" in out and "Traceback" not in out


@pytest.mark.slow
def test_a_published_folder_audits_ok_and_catches_tampering(smoke_project, tmp_path):
    """`gcnc publish` copies the smoke run's figures, tables, claims, sidecars and collected
    results (records included) into published/smoke; the audit checks each against its sidecar
    or record, names the upstream files not published rather than failing on them, notes a
    code change as such, and fails a tampered file by name."""
    import shutil

    from tests.projects import run

    proj = tmp_path / "p"
    shutil.copytree(smoke_project, proj, symlinks=True)
    out = run(["gcnc", "publish", "--preset", "smoke"], proj).stdout
    assert "published/smoke/" in out
    folder = proj / "published" / "smoke"
    names = {p.name for p in folder.iterdir()}
    assert {"claims.md", "claims.prov.json", "metrics.csv", "metrics.csv.record.json"} <= names
    assert not any(n.endswith(".pt") for n in names)
    shutil.rmtree(proj / "results")  # runs, weights and tables gone: the folder stands alone
    audit = run(["gcnc", "audit", "published/smoke"], proj)
    assert "all OK" in audit.stdout and "upstream files not published" in audit.stdout
    (proj / "src" / "gcnc" / "study" / "plan.py").write_text("# edited\n")
    audit = run(["gcnc", "audit", "published/smoke"], proj)
    assert audit.returncode == 0 and "code or configuration differences" in audit.stdout
    (folder / "claims.csv").write_text("tampered\n")
    audit = run(["gcnc", "audit", "published/smoke"], proj, check=False)
    assert audit.returncode == 1 and "published/smoke/claims.csv changed" in audit.stdout


def test_a_folder_outside_any_checkout_is_refused_once_with_what_to_do(checkout, capsys):
    """Sidecar paths are relative to the checkout: a published folder copied out of it cannot
    be audited; that is said once for the folder, naming where to run the audit."""
    outside = checkout.parent / "elsewhere"
    shutil.copytree(checkout / FIGS, outside)
    (result,) = audit_targets([outside])
    assert result.sidecar == outside and len(result.problems) == 1
    assert "not inside a checkout of the study" in result.problems[0]
    assert "inside a clone of the study" in result.problems[0]
    assert main(["audit", str(outside)]) == 1
    out = capsys.readouterr().out
    assert "cannot audit" in out and "no readable provenance sidecar" not in out
