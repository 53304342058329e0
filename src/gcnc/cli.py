"""Command line ``gcnc``: ``measure`` (:mod:`gcnc.measure_cli`; torch, and torchvision for
torchvision models) and the study's ``audit``, ``report``, ``publish`` and ``readme`` (a
checkout of the study with its packages); ``--help`` prints :data:`DESCRIPTION`, plain text."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

from gcnc import __version__

DESCRIPTION = """\
gcnc measure MODEL DATA measures the geometric complexity (GC) and neural collapse of a saved
network on a data set (needs torch, and torchvision for torchvision models). The study's
commands run in a checkout of the study with its packages (make setup): gcnc audit re-checks the
provenance sidecars of figures, gcnc report writes the HTML report over every preset with
results, gcnc publish copies a preset's small outputs into published/<preset> (committed), gcnc
readme rewrites README's generated block and docs/results/<preset>.md.

examples:
  gcnc measure resnet18 images/ --weights resnet18.pt
  gcnc measure --help
  gcnc audit paper_figures/quick
  gcnc report --out report.html"""


def _study(command: str, module: str) -> Any:
    """The study's ``module``, or None after one line saying what is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        print(f"gcnc {command}: needs the study, from a checkout with its packages (make setup); "
              f"{err}")  # fmt: skip
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="gcnc", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"gcnc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    from gcnc.measure_cli import add_parser, run  # torch only

    add_parser(sub)
    aud = sub.add_parser("audit", help="recompute the hashes a figure's sidecar records")
    aud.add_argument("targets", nargs="+", help="figure/table files, sidecars, or folders of them")
    rep = sub.add_parser("report", help="the HTML report over every preset with results")
    rep.add_argument("--out", default="report.html")
    pub = sub.add_parser("publish", help="copy a preset's small outputs into published/<preset>")
    pub.add_argument("--preset", default="quick")
    readme_cmd = sub.add_parser("readme", help="README's central table and docs/results/ pages")
    readme_cmd.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    if args.command == "measure":
        return run(args)
    if args.command == "report":
        return report(args.out)
    if args.command == "publish":
        return publish(args.preset)
    if args.command == "readme":
        return readme(args.readme)
    return audit(args.targets)


def report(out: str) -> int:
    module = _study("report", "gcnc.study.publish.report")
    if module is None:
        return 2
    try:
        presets = module.build_report(Path("."), Path(out))
    except ValueError as err:
        print(f"gcnc report: {err}")
        return 2
    print(f"report: {out} ({', '.join(presets)}; open it in a browser)")
    return 0


def publish(preset: str) -> int:
    module = _study("publish", "gcnc.study.publish.published")
    if module is None:
        return 2
    try:
        files = module.publish(Path("."), preset)
    except FileNotFoundError as err:
        print(f"gcnc publish: {err}")
        return 2
    print(f"published/{preset}/: {len(files)} files (commit them; check with gcnc audit "
          f"published/{preset})")  # fmt: skip
    return 0


def readme(path: str) -> int:
    module = _study("readme", "gcnc.study.publish.readme")
    if module is None:
        return 2
    try:
        changed, notes = module.update_readme(path)
    except ValueError as err:
        print(f"gcnc readme: {err}")
        return 2
    print(f"{path} and docs/results/: {'updated' if changed else 'already current'}")
    for note in notes:
        print(f"{path}: {note}")
    return 0


def audit(targets: list[str]) -> int:
    module = _study("audit", "gcnc.study.results.audit")  # Snakemake, from the study's packages
    if module is None:
        return 2
    results = module.audit_targets(targets)
    for result in results:
        print(f"{'OK  ' if not result.problems else 'FAIL'} {result.sidecar}")
        for problem in result.problems:
            print(f"     {problem}")
        for note in result.notes:
            print(f"     note: {note}")
    failed = sum(bool(r.problems) for r in results)
    unchecked = sorted({key for r in results for key in r.unchecked})
    print(
        f"audit: {len(results)} sidecars, {sum(r.checked for r in results)} files re-hashed, "
        f"{failed} with problems" + (" - all OK" if results and not failed else "")
    )
    if unchecked:
        print(f"       recorded but not re-hashable (digests over folders): {', '.join(unchecked)}")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    raise SystemExit(main())
