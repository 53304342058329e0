"""Scheduler requests (memory, time) per preset, from profiles/resources.yaml: beside the
profiles, outside DVC's params, so a new partition or memory limit never marks results stale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gcnc.study.config import SCHEMA_PATH, read_config_file
from gcnc.study.grid import RunSpec
from gcnc.study.validation import ConfigError

RESOURCES_SCHEMA_PATH = SCHEMA_PATH.with_name("resources.schema.yaml")
RESOURCES_PATH = "profiles/resources.yaml"  # relative to the repository root


def preset_resources(config: dict[str, Any], preset: str, path: str | Path = RESOURCES_PATH):
    """The scheduler requests of ``preset`` from ``path`` (its parent's for a derived preset
    without its own), validated; a wrong key or a scale for a name the preset does not use is a
    :class:`ConfigError` naming the file and key."""
    table = read_config_file(path)
    try:
        jsonschema.validate(table, yaml.safe_load(RESOURCES_SCHEMA_PATH.read_text()))
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path)
        raise ConfigError(f"{path}: key '{where}': {err.message}") from None
    pre = config["presets"][preset]
    name = preset if preset in table else pre.get("derived_from", preset)
    resources = table.get(name, {})
    names = {s["arch"] for s in pre["studies"].values()} | {
        s["dataset"] for s in pre["studies"].values()
    }
    for key in resources.get("pretrain", {}).get("scale", {}):
        if key not in names:
            raise ConfigError(
                f"{path}: key '{name}/pretrain/scale/{key}': not an architecture or dataset of "
                f"preset '{preset}'; choose from {sorted(names)}"
            )
    return resources


def pretrain_request(spec: RunSpec, resources: dict[str, Any]) -> dict[str, int]:
    """Scheduler request (first attempt) of one pretraining job from the preset's ``pretrain``
    resources: mem_mb and runtime (minutes), scaled per architecture and dataset."""
    cfg = resources.get("pretrain", {"mem_mb": 2000, "runtime": 30})
    scale = cfg.get("scale", {})
    factor = scale.get(spec.arch, 1.0) * scale.get(spec.dataset, 1.0)
    return {key: int(cfg[key] * factor) for key in ("mem_mb", "runtime")}
