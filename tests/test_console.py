"""make run's console: routine Snakemake lines folded away, errors and the summary kept, and
Snakemake's exit code returned."""

from __future__ import annotations

import os
import stat

from gcnc.study.runner.console import fold, main

TRANSCRIPT = """Assuming unrestricted shared filesystem usage.

SNAKEMAKE
=========
  Date: 2026-11-23 17:06:43
  Snakefile: /tmp/x/Snakefile

Building DAG of jobs...
Provided cores: 2
Job stats:
job      count
pretrain     2
Select jobs to execute...
Execute 2 jobs...
[Mon Nov 23 17:07:05 2026]
Finished jobid: 3 (Rule: pretrain)
1 of 2 steps (50%) done
[Mon Nov 23 17:07:09 2026]
Error in rule claims:
    message: None
    log: logs/quick/claims.log (check log file(s) for error details)

Complete log(s): /tmp/x/.snakemake/log/2026.snakemake.log
"""


def test_fold_keeps_errors_and_folds_progress():
    out = list(fold(TRANSCRIPT.splitlines(keepends=True)))
    assert out == [
        "Job stats:",
        "job      count",
        "pretrain     2",
        "[  50%] 1/2 jobs done (pretrain)",
        "Error in rule claims:",
        "    message: None",
        "    log: logs/quick/claims.log (check log file(s) for error details)",
        "",
        "Complete log(s): /tmp/x/.snakemake/log/2026.snakemake.log",
    ]


def test_main_passes_arguments_and_returns_snakemake_exit_code(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "snakemake"
    fake.write_text('#!/bin/sh\necho "args: $*"\necho "Select jobs to execute..."\nexit 3\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert main(["--", "--cores", "2"]) == 3
    assert capsys.readouterr().out == "args: --quiet rules --cores 2\n"
