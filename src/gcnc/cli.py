"""Command line ``gcnc``: ``measure`` (:mod:`gcnc.measure_cli`; torch, and torchvision for
torchvision models) and the study's ``audit`` and ``readme-claims`` (``pip install
'gcnc[study]'``); ``--help`` prints :data:`DESCRIPTION`, plain text."""

from __future__ import annotations

import argparse
from pathlib import Path

from gcnc import __version__

DESCRIPTION = """\
gcnc measure MODEL DATA measures the geometric complexity (GC) and neural collapse of a saved
network on a data set (needs torch, and torchvision for torchvision models). The study's
commands need its packages (pip install 'gcnc[study]'): gcnc audit re-checks the provenance
sidecars of figures, gcnc readme-claims rewrites README's claims block.

examples:
  gcnc measure resnet18 images/ --weights resnet18.pt
  gcnc measure --help
  gcnc audit paper_figures/quick"""


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
    readme = sub.add_parser("readme-claims", help="README's claims table from claims.md")
    readme.add_argument("--preset", default="quick")
    readme.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    if args.command == "measure":
        return run(args)
    if args.command == "readme-claims":
        from gcnc.readme import update_readme

        claims = Path("paper_figures") / args.preset / "claims.md"
        changed, notes = update_readme(args.readme, claims, args.preset)
        print(f"{args.readme}: generated blocks {'updated' if changed else 'already current'}")
        for note in notes:
            print(f"{args.readme}: {note}")
        return 0
    try:
        from gcnc.audit import audit_targets  # Snakemake, from the study's packages
    except ImportError as err:
        print(f"gcnc audit: needs the study's packages ({err}): pip install 'gcnc[study]'")
        return 2

    results = audit_targets(args.targets)
    for result in results:
        print(f"{'OK  ' if not result.problems else 'FAIL'} {result.sidecar}")
        for problem in result.problems:
            print(f"     {problem}")
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
