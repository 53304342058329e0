"""Sidecars record every input; the audit catches a tampered input and names it."""

import json

from gcnc.cli import main
from gcnc.provenance import audit, write_sidecar


def test_sidecar_and_tamper_detection(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, text in (("table.csv", "a,b\n1,2\n"), ("weights.pt", "w"), ("fig.pdf", "%PDF")):
        (tmp_path / name).write_text(text)
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"raw_files": {}}))
    record = write_sidecar(
        ["fig.pdf"],
        ["table.csv"],
        ["weights.pt", "meta.json"],
        preset="smoke",
        config={"x": 1},
        rule="figure",
        path=tmp_path / "fig.prov.json",
    )
    assert set(record) >= {"git", "config_sha256", "packages", "inputs", "upstream", "command"}
    assert audit("fig.pdf") == []
    assert main(["audit", "fig.pdf"]) == 0
    (tmp_path / "weights.pt").write_text("tampered")
    problems = audit("fig.pdf")
    assert problems == ["upstream: weights.pt changed (sha256 differs from the sidecar)"]
    assert main(["audit", "fig.pdf"]) == 1
    assert "weights.pt changed" in capsys.readouterr().out
