"""The study configuration: loading, schema validation, and expansion of a preset into runs.

One file (params.yaml) is read by Snakemake and by DVC. This module is the single place
that turns a preset's studies (a base point plus one-knob sweeps, as in the rows of the paper's
Fig. 1 and Fig. 4) into the concrete grid of pretraining runs.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"
KNOBS = ("lr", "batch_size", "weight_decay", "gc_reg")


class ConfigError(ValueError):
    """The study configuration is invalid; the message names the offending key."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that determines one pretraining run (one grid point and seed)."""

    dataset: str
    arch: str
    task: str
    lr: float
    batch_size: int
    weight_decay: float
    gc_reg: float
    seed: int
    steps: int
    model: dict[str, int] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        """Readable, path-safe id: ``<dataset>-<arch>-<task>_lr~.._bs~.._wd~.._gc~.._seed~..``."""
        return (
            f"{self.dataset}-{self.arch}-{self.task}"
            f"_lr~{self.lr:g}_bs~{self.batch_size}_wd~{self.weight_decay:g}"
            f"_gc~{self.gc_reg:g}_seed~{self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read, override (top-level keys, like ``snakemake --config``) and validate the config."""
    config = yaml.safe_load(Path(path).read_text())
    config.update(overrides or {})
    validate_config(config)
    return config


def validate_config(config: dict[str, Any]) -> None:
    """Schema validation plus the cross-references a schema cannot express.

    Raises :class:`ConfigError` naming the key at fault; nothing is run before this passes.
    """
    try:
        jsonschema.validate(config, load_schema())
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{where}': {err.message}") from None
    preset = config["preset"]
    if preset not in config["presets"]:
        raise ConfigError(
            f"config key 'preset': '{preset}' is not one of {sorted(config['presets'])}"
        )
    for name, ds in config["datasets"].items():
        if ds.get("target_mode") == "mixtures" and ds["kind"] != "gaussians":
            raise ConfigError(f"config key 'datasets/{name}/target_mode': only for gaussians")
    for pname, pre in config["presets"].items():
        for sname, study in pre["studies"].items():
            key = f"presets/{pname}/studies/{sname}"
            if study["dataset"] not in config["datasets"]:
                raise ConfigError(
                    f"config key '{key}/dataset': unknown dataset '{study['dataset']}'"
                )
            ds = config["datasets"][study["dataset"]]
            if (
                study.get("task", "full") == "source"
                and ds["kind"] not in ("cifar_fs", "mini_imagenet")
                and not ds.get("target_classes")
            ):
                raise ConfigError(f"config key '{key}/task': dataset has no target_classes")
        if pre["gc_sampling"]["study"] not in pre["studies"]:
            raise ConfigError(
                f"config key 'presets/{pname}/gc_sampling/study': unknown study "
                f"'{pre['gc_sampling']['study']}'"
            )
        expand_runs(config, pname)  # raises on conflicting run definitions


def study_runs(config: dict[str, Any], preset: str, study: str) -> list[RunSpec]:
    """Runs of one study: its base point, plus the base with one knob changed per sweep value."""
    pre = config["presets"][preset]
    s = pre["studies"][study]
    points = [dict(s["base"])]
    for knob in KNOBS:
        for value in s.get("sweep", {}).get(knob, []):
            point = dict(s["base"], **{knob: value})
            if point not in points:
                points.append(point)
    return [
        RunSpec(
            dataset=s["dataset"],
            arch=s["arch"],
            task=s.get("task", "full"),
            lr=float(p["lr"]),
            batch_size=int(p["batch_size"]),
            weight_decay=float(p["weight_decay"]),
            gc_reg=float(p["gc_reg"]),
            seed=seed,
            steps=int(s.get("steps", pre["training"]["steps"])),
            model=dict(s.get("model", {})),
        )
        for seed in s["seeds"]
        for p in points
    ]


def expand_runs(config: dict[str, Any], preset: str) -> dict[str, RunSpec]:
    """All runs of a preset keyed by run id; two studies may share a run only if identical."""
    runs: dict[str, RunSpec] = {}
    for study in config["presets"][preset]["studies"]:
        for spec in study_runs(config, preset, study):
            known = runs.setdefault(spec.run_id, spec)
            if known != spec:
                raise ConfigError(
                    f"config key 'presets/{preset}/studies/{study}': run {spec.run_id} is defined "
                    f"twice with different settings ({known} vs {spec})"
                )
    return runs


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (used in provenance sidecars)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
