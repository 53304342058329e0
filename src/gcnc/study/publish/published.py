"""The evidence of a preset, published in the repository: ``published/<preset>/`` holds its
figures, tables, claims and their provenance sidecars (``paper_figures/<preset>/``) and the
collected results tables they were drawn from (``results/<preset>/*.csv`` with their records),
never checkpoints, weights or per-run files. ``make publish PRESET=<name>`` writes it; the report
and README read it where this checkout has not run the preset; ``gcnc audit published/<name>``
checks every file against its sidecar (:mod:`gcnc.study.results.audit`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

FIGURE_SUFFIXES = (".png", ".pdf", ".csv", ".md", ".html", ".prov.json")
RESULT_SUFFIXES = (".csv", ".csv.record.json")


def published_paths(root: Path, preset: str) -> dict[str, str]:
    """Where a published folder's files came from, as the sidecars name them (paths relative to
    the checkout): ``paper_figures/<preset>/x`` and ``results/<preset>/x`` -> ``published/
    <preset>/x``."""
    return {f"paper_figures/{preset}/": f"published/{preset}/",
            f"results/{preset}/": f"published/{preset}/"}  # fmt: skip


def publish(root: Path, preset: str) -> list[Path]:
    """Copy a preset's small outputs into ``published/<preset>/`` (replacing what was there);
    returns the files written. A preset this checkout has not run is an error naming the
    folder and what to do."""
    figures, results = root / "paper_figures" / preset, root / "results" / preset
    if not (figures / "claims.md").exists() or not (results / "plan.csv").exists():
        raise FileNotFoundError(
            f"{figures} or {results} has no results of preset '{preset}': "
            f"run `make run PRESET={preset}` first"
        )
    target = root / "published" / preset
    staging = target.with_name(f".{preset}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    sources = [p for p in sorted(figures.iterdir()) if p.name.endswith(FIGURE_SUFFIXES)]
    sources += [p for p in sorted(results.iterdir()) if p.name.endswith(RESULT_SUFFIXES)]
    for path in sources:
        shutil.copy2(path, staging / path.name)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)  # the folder appears whole or not at all
    return sorted(target.iterdir())
