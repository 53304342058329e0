"""``make run``'s console: Snakemake with its per-job chatter folded into one progress line per
finished job; errors, warnings, the job table and the closing summary pass through untouched.

``python -m gcnc.study.runner.console -- <snakemake arguments>`` runs ``snakemake --quiet rules
<arguments>``
and returns its exit code; a SIGTERM or SIGHUP it receives is passed on to Snakemake, which stops
its jobs. Nothing is hidden that a reader needs: only lines on a fixed list of
Snakemake's routine messages are dropped (any other line, an error above all, is printed as it
comes), and Snakemake's complete log, whose path is printed at the end, keeps every line.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator

ROUTINE = re.compile(
    r"^(Assuming unrestricted shared filesystem usage\.|SNAKEMAKE|=+|Select jobs to execute\.\.\."
    r"|Execute \d+ jobs?\.\.\.|Building DAG of jobs\.\.\.|Using shell: .*|Provided cores: .*"
    r"|Rules claiming more threads will be scaled down\.|Conda environments: ignored"
    r"|Elapsed time: .*|Config file .* is extended by additional config specified via the"
    r" command line\.|\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]"
    r"|  (Date|Workflow ID|Platform|Host|User|Snakemake version|Python version|Command"
    r"|Snakefile|Base directory|Run directory|Working directory|Config file\(s\)|Config MD5): .*)$"
)
FINISHED = re.compile(r"^Finished jobid: \d+ \(Rule: (?P<rule>\w+)\)")
FORWARDED = (signal.SIGTERM, signal.SIGHUP)  # passed on to Snakemake
PROGRESS = re.compile(r"^(?P<done>\d+) of (?P<total>\d+) steps \((?P<pct>[\d.]+%)\) done")


def fold(lines: Iterable[str]) -> Iterator[str]:
    """Snakemake's output with routine lines dropped and each finished job as one line."""
    rule, blank = "?", True
    for raw in lines:
        line = raw.rstrip("\n")
        if ROUTINE.match(line) or (blank and not line.strip()):
            continue
        blank = not line.strip()
        if finished := FINISHED.match(line):
            rule = finished["rule"]
            continue
        if progress := PROGRESS.match(line):
            done, total = progress["done"], progress["total"]
            yield f"[{progress['pct']:>5}] {done}/{total} jobs done ({rule})"
            continue
        yield line


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    args = args[1:] if args[:1] == ["--"] else args
    cmd = ["snakemake", "--quiet", "rules", *args]
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        # `make` passes a SIGTERM (or a closed terminal's SIGHUP) to this process alone: hand it
        # to Snakemake, which stops its jobs and exits, and keep printing until it has
        for sig in FORWARDED:
            signal.signal(sig, lambda signum, frame: proc.send_signal(signum))
        try:
            assert proc.stdout is not None
            for line in fold(proc.stdout):
                print(line, flush=True)
        except KeyboardInterrupt:  # the terminal sent SIGINT to Snakemake too: let it finish
            pass
        return proc.wait()


if __name__ == "__main__":
    raise SystemExit(main())
