"""Sidecars record every input, the code and the preset's config; the audit re-checks all of it
from the checkout that holds the sidecar, names what changed and ends with a summary line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gcnc.cli import main
from gcnc.config import config_hash, preset_config, workflow_config
from gcnc.provenance import audit, write_sidecar

ROOT = Path(__file__).resolve().parents[1]


def draw(x: int) -> int:
    """Stands in for the gcnc function that computed a figure."""
    return x


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A checkout (Snakefile, the real params.yaml, the figure script) with one figure whose
    upstream is a run's weights and a prepared dataset made from a raw file outside it."""
    repo = tmp_path / "repo"
    (repo / "workflow" / "scripts").mkdir(parents=True)
    (repo / "Snakefile").write_text("# marker\n")
    (repo / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    (repo / "workflow" / "scripts" / "figure.py").write_text("print('figure')\n")
    raw = tmp_path / "raw_source"
    raw.mkdir()
    (raw / "train-images.gz").write_bytes(b"raw bytes")
    (repo / "meta.json").write_text(
        json.dumps(
            {
                "raw_source": {"path": str(raw)},
                "raw_files": {"Set/raw/train-images.gz": _sha(b"raw bytes"), "images/": "x"},
            }
        )
    )
    for name, text in (("table.csv", "a,b\n1,2\n"), ("weights.pt", "w"), ("fig.pdf", "%PDF")):
        (repo / name).write_text(text)
    monkeypatch.chdir(repo)
    config = workflow_config(yaml.safe_load((repo / "params.yaml").read_text()))
    write_sidecar(
        ["fig.pdf"],
        ["table.csv"],
        ["weights.pt", "meta.json"],
        preset="quick",
        config_sha256=config_hash(preset_config(config, "quick")),
        rule="figure",
        function=draw,
        path=repo / "fig.prov.json",
    )
    return repo


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_sidecar_records_code_command_and_raw_files(checkout):
    record = json.loads((checkout / "fig.prov.json").read_text())
    assert record["script"] == {
        "path": "workflow/scripts/figure.py",
        "sha256": _sha(b"print('figure')\n"),
    }
    assert record["function"]["name"] == "tests.test_provenance.draw"
    assert record["function"]["sha256"] == _sha(Path(__file__).read_bytes())
    assert record["reproduce"] == (
        "snakemake --cores 1 --forcerun figure --config preset=quick -- fig.pdf"
    )
    raw = record["raw_data"]
    assert raw["Set/raw/train-images.gz"]["path"].endswith("raw_source/train-images.gz")
    assert raw["images/"]["path"] is None  # a digest over a folder: recorded, not re-hashable
    result = audit("fig.pdf")
    assert result.problems == [] and result.unchecked == ["images/"]
    assert result.checked == 7  # artifact, input, 2 upstream, 1 raw file, script, function


def test_audit_from_outside_the_checkout_ends_with_a_summary(checkout, capsys, monkeypatch):
    monkeypatch.chdir(checkout.parent)
    assert main(["audit", str(checkout)]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and "missing" not in out
    assert out.splitlines()[-2] == "audit: 1 sidecars, 7 files re-hashed, 0 with problems - all OK"


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda r: (r / "weights.pt").write_text("x"), "upstream: weights.pt changed"),
        (lambda r: (r / "table.csv").unlink(), "inputs: table.csv is missing"),
        (lambda r: (r.parent / "raw_source" / "train-images.gz").write_text("x"), "raw_data: "),
        (
            lambda r: (r / "workflow/scripts/figure.py").write_text("print(2)\n"),
            "script (code changed since): workflow/scripts/figure.py changed",
        ),
        (
            lambda r: (r / "params.yaml").write_text(
                (r / "params.yaml").read_text().replace("steps: 1500", "steps: 1400", 1)
            ),
            "config: params.yaml's preset 'quick' differs",
        ),
        (lambda r: (r / "params.yaml").write_text("preset: [\n"), "config: config file"),
    ],
    ids=["weights", "input", "raw", "script", "params", "params-unreadable"],
)
def test_audit_names_what_changed(checkout, capsys, tamper, expected):
    tamper(checkout)
    problems = audit("fig.pdf").problems
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert main(["audit", "fig.pdf"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "1 with problems" in out


def test_another_presets_edit_leaves_the_audit_clean(checkout):
    params = checkout / "params.yaml"
    text = params.read_text()
    assert "steps: 1500" in text  # quick's steps
    config = yaml.safe_load(text)
    config["presets"]["paper"]["device"] = "cpu"
    params.write_text(yaml.safe_dump(config))
    assert audit("fig.pdf").problems == []


def test_missing_sidecar_is_a_failure_not_a_traceback(checkout, capsys):
    assert main(["audit", "nothing.pdf"]) == 1
    assert "no readable provenance sidecar" in capsys.readouterr().out
