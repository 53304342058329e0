"""Stale Snakemake locks: after a kill, unlock only when no Snakemake runs in this directory.

A Snakemake killed with SIGKILL (or a lost node) leaves ``.snakemake/locks/`` behind, and the
next run stops with a LockException. ``python -m gcnc.study.runner.locks [-- <snakemake args>]``
(run by
``make run`` before Snakemake) looks for lock files and, if there are any, scans ``/proc`` for a
live process of this machine that is a Snakemake (or one of its jobs: an argument is the
``snakemake`` executable or module, or a job script under ``.snakemake/scripts/``; a ``tail -f``
of a Snakemake log is not) working in this directory (its cwd, or an argument naming the
directory). Only when there is none does it run ``snakemake --unlock``; otherwise it leaves the
lock alone and names the process. It prints what it did. A Snakemake on another machine sharing
the directory cannot be seen: on a cluster login node, check ``squeue`` before unlocking by hand.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

PROC = Path("/proc")


def lock_files(root: str | Path) -> list[Path]:
    """The lock files Snakemake keeps in ``<root>/.snakemake/locks``."""
    return sorted((Path(root) / ".snakemake" / "locks").glob("*.lock"))


def _ancestors() -> set[int]:
    """This process and its ancestors (``make``, the shell running this recipe line)."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            break
        pid = int(stat.rsplit(")", 1)[1].split()[1])  # field 4, after "(comm)" and the state
    return pids


def is_snakemake_argument(arg: str) -> bool:
    """Whether a command-line argument makes its process a Snakemake or one of its jobs: the
    ``snakemake`` executable or module, or a job script Snakemake wrote
    (``.snakemake/scripts/...``). A ``tail -f .snakemake/log/...`` or an editor is not one."""
    return Path(arg).name == "snakemake" or ".snakemake/scripts/" in arg


def snakemake_processes(root: str | Path) -> list[tuple[int, str]]:
    """(pid, command line) of every live process, other than this one and its ancestors, that
    is a Snakemake or one of its jobs (:func:`is_snakemake_argument`) and works in ``root``: its
    cwd is ``root``, or an absolute argument is ``root`` (``--directory``). Zombies (no command
    line) are not live."""
    root = os.path.realpath(root)
    skip = _ancestors()
    found = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        if not any(map(is_snakemake_argument, args)):
            continue
        try:
            cwd = os.path.realpath(os.readlink(entry / "cwd"))
        except OSError:
            cwd = None
        values = (a.split("=", 1)[-1] for a in args)  # --directory=DIR or DIR
        named = {os.path.realpath(v) for v in values if v.startswith("/")}
        if cwd == root or root in named:
            found.append((int(entry.name), " ".join(args)))
    return found


def unlock_if_stale(root: str | Path, snakemake_args: list[str] | None = None) -> int:
    """Run ``snakemake --unlock`` in ``root`` if it holds locks and no Snakemake runs there.

    Prints what it found and did; returns the exit status (0 unless the unlock itself failed).
    """
    root = Path(root).resolve()
    locks = lock_files(root)
    where = root / ".snakemake" / "locks"
    if not locks:
        print(f"locks: no Snakemake lock in {where}; nothing to unlock", flush=True)
        return 0
    if not PROC.is_dir():
        print(
            f"locks: {len(locks)} lock file(s) in {where}, but without /proc this machine "
            "cannot tell whether a Snakemake is running; if none is, run 'snakemake --unlock'",
            flush=True,
        )
        return 0
    live = snakemake_processes(root)
    if live:
        pid, cmd = live[0]
        print(
            f"locks: another Snakemake is running in {root} (pid {pid}: {cmd[:200]}"
            f"{' and more' if len(live) > 1 else ''}); not unlocking. Wait for it to finish or "
            "stop it, then rerun.",
            flush=True,
        )
        return 0
    print(
        f"locks: stale lock ({len(locks)} file(s) in {where}) and no Snakemake process "
        f"running in {root}: a killed run left it; running 'snakemake --unlock'",
        flush=True,
    )
    cmd = [sys.executable, "-m", "snakemake", "--unlock", *(snakemake_args or [])]
    res = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    if res.returncode != 0 or lock_files(root):
        print(f"locks: unlock failed ({res.returncode}):\n{res.stdout}{res.stderr}")
        return res.returncode or 1
    print("locks: unlocked; incomplete jobs rerun with --rerun-incomplete", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m gcnc.study.runner.locks [--directory DIR] [-- <snakemake
    args>]``."""
    parser = argparse.ArgumentParser(prog="python -m gcnc.study.runner.locks", description=__doc__)
    parser.add_argument("--directory", default=".", help="the workflow's directory (default: .)")
    parser.add_argument("snakemake_args", nargs="*", help="passed to snakemake --unlock")
    args = parser.parse_args(argv)
    return unlock_if_stale(args.directory, args.snakemake_args)


if __name__ == "__main__":
    sys.exit(main())
