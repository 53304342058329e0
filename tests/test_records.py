"""Results are checked when read: every file a job writes under results/ has a record (sha256,
inputs); each kind of file, damaged, is refused by whoever reads it (collection, few-shot,
fine-tuning, Fig. 2, Poincare, bounds, figures, tables, claims) with its path and what to do.
Files written before records are still checked for torn rows and missing steps. A full disk is
named with the file and leaves no temporary file. Cases: TESTING.md."""

from __future__ import annotations

import json
import runpy
import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from gcnc.study.pretraining.checkpoints import CheckpointError, load_weights
from gcnc.study.pretraining.pretrain import pretrain
from gcnc.study.results.collect import collect_runs, read_run
from gcnc.study.results.files import WriteFailed, write_text
from gcnc.study.results.records import (
    REBUILD,
    RECORD_SUFFIX,
    DamagedResultError,
    read_json,
    read_table,
    record_outputs,
    record_path,
    write_table,
)
from tests.projects import ROOT, namedlist
from tests.test_training import spec

RUN_FILES = ["metrics.csv", "class_metrics.csv", "config.json", "final.pt", "summary.json"]


def _cut(p: Path) -> None:
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _torn(p: Path) -> None:  # the last row written half
    p.write_bytes(p.read_bytes()[:-15])


def _no_nc(p: Path) -> None:
    pd.read_csv(p).drop(columns="nc").to_csv(p, index=False)


def _edit_json(p: Path) -> None:
    p.write_text(json.dumps({**json.loads(p.read_text()), "status": "diverged"}))


def _flip(p: Path) -> None:
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def results(tmp_path_factory, digits, prepared_dir, config) -> Path:
    """A run folder written as the pretrain job writes it (records included), and the collected
    tables of that run (results/smoke/...)."""
    root = tmp_path_factory.mktemp("results")
    folder = root / "runs" / spec().run_id
    pretrain(spec(), digits, config["presets"]["smoke"], folder, progress=False)
    data = [str(prepared_dir / "digits" / n) for n in ("arrays.npz", "meta.json")]
    record_outputs([folder / name for name in RUN_FILES], data)
    inputs = {key: [str(folder / f)] for key, f in [("metrics", "metrics.csv"),
              ("class_metrics", "class_metrics.csv"), ("summaries", "summary.json"),
              ("configs", "config.json")]}  # fmt: skip
    collect_runs(inputs, {t: str(root / f"{t}.csv") for t in ("metrics", "class_metrics", "runs")})
    write_table(pd.DataFrame({"run_id": [spec().run_id], "accuracy": [0.5]}), root / "t.csv", [])
    return root


@pytest.fixture
def copy(results, tmp_path) -> Path:
    shutil.copytree(results, tmp_path / "r")
    return tmp_path / "r"


def _run(root: Path) -> Path:
    return root / "runs" / spec().run_id


def _refused(err: pytest.ExceptionInfo, path: Path, says: str) -> None:
    """The error names the file, what is wrong and what to do."""
    message = str(err.value)
    assert str(path) in message and says in message, message
    assert "make run rebuilds" in message, message


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("metrics.csv", _cut, "is not what the workflow wrote"),
        ("metrics.csv", _torn, "is not what the workflow wrote"),
        ("metrics.csv", _no_nc, "is not what the workflow wrote"),
        ("metrics.csv", Path.unlink, "is missing"),
        ("class_metrics.csv", _cut, "is not what the workflow wrote"),
        ("summary.json", _edit_json, "is not what the workflow wrote"),
        ("summary.json", lambda p: p.write_text("{not json"), "is not what the workflow wrote"),
        ("config.json", _edit_json, "is not what the workflow wrote"),
    ],
    ids=["metrics-cut", "metrics-torn", "metrics-no-nc", "metrics-deleted", "class-metrics-cut",
         "summary-edited", "summary-garbage", "config-edited"],  # fmt: skip
)
def test_a_damaged_run_file_is_refused_by_collection(copy, name, damage, says):
    damage(_run(copy) / name)
    with pytest.raises(DamagedResultError) as err:
        read_run(_run(copy))
    _refused(err, _run(copy) / name, says)


@pytest.mark.parametrize("damage", [_flip, _cut], ids=["bit-flip", "cut"])
def test_damaged_weights_are_refused_by_name(copy, damage):
    final = _run(copy) / "final.pt"
    damage(final)
    with pytest.raises(CheckpointError, match="is not what the workflow wrote") as err:
        load_weights(final)
    _refused(err, final, REBUILD)


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("metrics.csv", lambda p: p.write_text("".join(p.read_text().splitlines(True)[:5])),
         "the last logged step is 20, but the run ended at step 60"),
        ("metrics.csv", _torn, "its last line is cut off"),
        ("class_metrics.csv", lambda p: p.write_text("".join(p.read_text().splitlines(True)[:21])),
         "steps [0], but metrics.csv logged steps [0, 20, 40, 60]"),
        ("summary.json", lambda p: p.write_text('{"run_id": "x"}'), "no status, steps_done entry"),
        ("metrics.csv", lambda p: p.write_text(p.read_text().replace(",test,", ",train,")),
         "step 0 (train) is logged twice"),
    ],
    ids=["metrics-cut-at-a-row", "metrics-torn", "class-metrics-cut", "summary-keys", "twice"],
)  # fmt: skip
def test_run_files_written_before_records_are_checked_by_structure(copy, name, damage, says):
    for path in _run(copy).glob(f"*{RECORD_SUFFIX}"):
        path.unlink()  # files of a gcnc before records
    whole = read_run(_run(copy))
    pd.testing.assert_frame_equal(whole.metrics, pd.read_csv(_run(copy) / "metrics.csv"))
    damage(_run(copy) / name)
    with pytest.raises(DamagedResultError) as err:
        read_run(_run(copy))
    _refused(err, _run(copy) / name, says)


@pytest.mark.parametrize("table", ["metrics.csv", "class_metrics.csv", "runs.csv", "t.csv"])
@pytest.mark.parametrize("damage", [_cut, _torn, Path.unlink], ids=["cut", "torn", "deleted"])
def test_a_damaged_collected_table_is_refused(copy, table, damage):
    damage(copy / table)
    with pytest.raises(DamagedResultError) as err:
        read_table(copy / table)
    _refused(err, copy / table, "is missing" if damage is Path.unlink else REBUILD)


def test_a_table_without_record_needs_its_columns_and_whole_rows(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("run_id,nc\na,1\nb,2\n")
    assert list(read_table(path, ["nc"]).nc) == [1, 2]
    with pytest.raises(DamagedResultError, match=r"t\.csv: no column gc\. Delete it and rerun"):
        read_table(path, ["gc"])
    path.write_text("run_id,nc\na,1\nb\n")
    with pytest.raises(DamagedResultError, match="line 3 has 1 fields, the header 2"):
        read_table(path)


def test_a_damaged_record_is_named_with_its_file(copy):
    record = record_path(copy / "runs.csv")
    record.write_text("{")
    with pytest.raises(DamagedResultError, match=f"{record}: not a readable record") as err:
        read_table(copy / "runs.csv")
    assert f"Delete {copy / 'runs.csv'} and this record and rerun" in str(err.value)
    assert read_json(_run(copy) / "summary.json")["status"] == "ok"


def _script(name: str, inputs, tmp_path: Path) -> None:
    """Run workflow/scripts/<name>.py as Snakemake would, with these inputs."""
    job = SimpleNamespace(input=inputs, output=namedlist(out=str(tmp_path / "out.csv")), threads=1,
                          log=[str(tmp_path / f"{name}.log")], wildcards=SimpleNamespace(),
                          params=SimpleNamespace())  # fmt: skip
    runpy.run_path(str(ROOT / "workflow" / "scripts" / f"{name}.py"), {"snakemake": job})


CONSUMERS = {  # rule -> (its inputs, the one damaged); R: the results folder, D: the run folder
    "collect_metrics": (lambda R, D: namedlist(metrics=[f"{D}/metrics.csv"],
        class_metrics=[f"{D}/class_metrics.csv"], summaries=[f"{D}/summary.json"],
        configs=[f"{D}/config.json"]), "{D}/metrics.csv"),
    "collect_fewshot": (lambda R, D: namedlist(d=f"{R}/t.csv"), "{R}/t.csv"),
    "collect_finetune": (lambda R, D: namedlist(runs=[f"{R}/t.csv"], fewshot=f"{R}/runs.csv"),
        "{R}/t.csv"),
    "poincare": (lambda R, D: namedlist(metrics=f"{R}/metrics.csv",
        class_metrics=f"{R}/class_metrics.csv", runs=f"{R}/runs.csv", data=[]),
        "{R}/class_metrics.csv"),
    "bounds": (lambda R, D: namedlist(metrics=f"{R}/metrics.csv",
        class_metrics=f"{R}/class_metrics.csv", runs=f"{R}/runs.csv", poincare=f"{R}/t.csv",
        fewshot=f"{R}/t.csv"), "{R}/runs.csv"),
    "figure": (lambda R, D: namedlist(tables=[f"{R}/metrics.csv"], upstream=[f"{D}/final.pt"]),
        "{R}/metrics.csv"),
    "table": (lambda R, D: namedlist(tables=[f"{R}/metrics.csv"], upstream=[f"{D}/final.pt"]),
        "{D}/final.pt"),
    "claims": (lambda R, D: namedlist(metrics=f"{R}/metrics.csv", runs=f"{R}/runs.csv",
        upstream=[f"{D}/final.pt"]), "{R}/runs.csv"),
    "fewshot": (lambda R, D: namedlist(final=[f"{D}/final.pt"], summary=[f"{D}/summary.json"]),
        "{D}/summary.json"),
    "finetune": (lambda R, D: namedlist(final=f"{D}/final.pt", summary=f"{D}/summary.json"),
        "{D}/final.pt"),
    "gc_sampling": (lambda R, D: namedlist(final=f"{D}/final.pt", summary=f"{D}/summary.json"),
        "{D}/final.pt"),
}  # fmt: skip


@pytest.mark.parametrize("rule", sorted(CONSUMERS))
def test_every_consumer_refuses_a_damaged_input_by_name(copy, tmp_path, rule):
    inputs, damaged = CONSUMERS[rule]
    path = Path(damaged.format(R=copy, D=_run(copy)))
    _cut(path)
    with pytest.raises(DamagedResultError) as err:
        _script(rule, inputs(copy, _run(copy)), tmp_path)
    _refused(err, path, REBUILD)


def test_a_full_disk_is_named_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "metrics.csv"
    target.with_name("metrics.csv.tmp").symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(WriteFailed, match="No space left on device") as err:
        write_table(pd.DataFrame({"a": range(10)}), target, [])
    assert f"cannot write {target}" in str(err.value) and "free some space" in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no table, no record, no temporary file (the trap)
    write_text(target, "a\n1\n")
    assert target.read_text() == "a\n1\n"
