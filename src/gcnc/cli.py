"""Command line: ``gcnc audit <figure or folder> ...`` re-checks provenance sidecars;
``gcnc readme-claims [--preset quick]`` rewrites README's claims block from that preset's
claims.md."""

from __future__ import annotations

import argparse
from pathlib import Path

from gcnc.provenance import audit
from gcnc.readme import update_readme


def _targets(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out += sorted(p.glob("*.prov.json")) if p.is_dir() else [p]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gcnc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    aud = sub.add_parser("audit", help="recompute the hashes a figure's sidecar records")
    aud.add_argument("targets", nargs="+", help="figure/table files, sidecars, or folders of them")
    readme = sub.add_parser("readme-claims", help="README's claims table from claims.md")
    readme.add_argument("--preset", default="quick")
    readme.add_argument("--readme", default="README.md")
    args = parser.parse_args(argv)
    if args.command == "readme-claims":
        claims = Path("paper_figures") / args.preset / "claims.md"
        changed = update_readme(args.readme, claims, args.preset)
        print(f"{args.readme}: claims block {'updated' if changed else 'already current'}")
        return 0
    failed = 0
    for target in _targets(args.targets):
        try:
            problems = audit(target)
        except FileNotFoundError:
            problems = [f"no provenance sidecar for {target}"]
        print(f"{'OK  ' if not problems else 'FAIL'} {target}")
        for problem in problems:
            print(f"     {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
