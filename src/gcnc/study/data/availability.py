"""Can the listed datasets be prepared? Path checks only, cheap enough for Snakemake parse time."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gcnc.study.data import sources
from gcnc.study.data.sources import RawConfig, how_to_get, raw_available


def availability_errors(config: dict[str, Any], datasets: Iterable[str]) -> list[str]:
    """One message per dataset of ``datasets`` that can be neither reused nor prepared.

    A dataset is fine when ``<prepared_dir>/<name>/meta.json`` exists, when it is synthetic, or
    when its raw files can be found (``raw_dir``, Debian's directory for Fashion-MNIST) or may be
    downloaded (``data.allow_download``). Nothing is read or hashed: only paths are checked.
    """
    data = config["data"]
    raw = RawConfig(Path(data["raw_dir"]), bool(data.get("allow_download", False)))
    prepared = Path(data["prepared_dir"])
    errors = []
    for name in dict.fromkeys(datasets):
        kind = config["datasets"][name]["kind"]
        if (prepared / name / "meta.json").exists() or raw_available(kind, raw):
            continue
        errors.append(how_to_get(name, kind, raw.raw_dir))
    return errors


def fabricated_kinds(requested: Iterable[str], config: dict[str, Any], datasets: Iterable[str]):
    """The kinds of ``requested`` to fabricate: those some dataset of ``datasets`` needs
    (CIFAR-FS is built from CIFAR-100), except Fashion-MNIST where Debian's real files exist."""
    needed = {config["datasets"][d]["kind"] for d in datasets}
    needed |= {"cifar100"} if "cifar_fs" in needed else set()
    debian = sources.idx_files(sources.DEBIAN_FASHION_MNIST) is not None
    real = {"fashion_mnist"} if debian else set()
    return sorted(set(requested) & needed - real)
