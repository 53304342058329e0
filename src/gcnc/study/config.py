"""The study configuration: loading, schema validation, and expansion of a preset into runs.

One file (params.yaml) is read by Snakemake and by DVC. This module is the single place
that turns a preset's studies (a base point plus one-knob sweeps, as in the rows of the paper's
Fig. 1 and Fig. 4) into the concrete grid of pretraining runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from gcnc.study.constants import RESULT_NEUTRAL
from gcnc.study.grid import expand_runs
from gcnc.study.validation import (
    FEW_SHOT_SPLIT_KINDS,
    ConfigError,
    check_datasets,
    check_preset,
    check_schema,
    non_finite,
)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The YAML mapping in ``path``; a missing file, invalid YAML or a non-mapping raises a
    :class:`ConfigError` naming the file (and the line, for a YAML error)."""
    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"config file {path}: cannot be read ({err.strerror})") from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(f"config file {path}: not valid YAML{line}: {problem}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys, got {config!r:.80}")
    return config


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read, override (top-level keys, like ``snakemake --config``), resolve derived presets and
    validate the config."""
    config = read_config_file(path)
    config.update(overrides or {})
    config = resolve_config(config)
    validate_config(config)
    return config


def _merge(base: Any, override: Any) -> Any:
    """``override`` laid over ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: _merge(base[k], v) if k in base else v for k, v in {**base, **override}.items()}
    return copy.deepcopy(override)


SHRINK_KEYS = ("seeds", "sweep_values", "max_batch_size")
DERIVATION_KEYS = ("extends", "replace", "shrink")  # how a preset derives; gone once resolved


def _shrink(preset: dict[str, Any], shrink: dict[str, int]) -> None:
    """Keep the first ``sweep_values`` values of every sweep and the first ``seeds`` seeds; cap
    every batch size at ``max_batch_size``."""
    for study in preset.get("studies", {}).values():
        if "max_batch_size" in shrink:
            cap = shrink["max_batch_size"]
            study["base"]["batch_size"] = min(study["base"]["batch_size"], cap)
            if "batch_size" in study.get("sweep", {}):
                study["sweep"]["batch_size"] = [min(b, cap) for b in study["sweep"]["batch_size"]]
        if "seeds" in shrink:
            study["seeds"] = study["seeds"][: shrink["seeds"]]
        if "sweep_values" in shrink:
            keep = shrink["sweep_values"]
            study["sweep"] = {k: v[:keep] for k, v in study.get("sweep", {}).items()}


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config with every derived preset written out in full.

    A preset ``{extends: paper, shrink: {...}, <keys>}`` is the preset ``paper`` with ``<keys>``
    laid over it (mappings merge, other values replace) and then shrunk (:func:`_shrink`), so a
    derived preset cannot drift from its parent. ``replace: [studies, ...]`` names parent keys
    that are not merged: the derived preset's own value stands alone, and a listed key it does
    not set is dropped (e.g. a controlled experiment with its own studies and no fine-tuning).
    The result records ``derived_from``; resolving a resolved config changes nothing.
    """
    presets = config.get("presets")
    if not isinstance(presets, dict):
        return config
    out = dict(config, presets=dict(presets))
    for name, pre in presets.items():
        if not isinstance(pre, dict) or "extends" not in pre:
            continue
        parent = pre["extends"]
        if parent not in presets or not isinstance(presets[parent], dict):
            raise ConfigError(
                f"config key 'presets/{name}/extends': '{parent}' is not one of {sorted(presets)}"
            )
        if "extends" in presets[parent]:
            raise ConfigError(
                f"config key 'presets/{name}/extends': '{parent}' is itself derived; "
                "extend the preset it derives from"
            )
        replace = pre.get("replace", [])
        if not isinstance(replace, list) or not all(isinstance(k, str) for k in replace):
            raise ConfigError(
                f"config key 'presets/{name}/replace': expected a list of the parent's keys, "
                f"got {replace!r}"
            )
        own = {k: v for k, v in pre.items() if k not in DERIVATION_KEYS}
        kept = {k: v for k, v in presets[parent].items() if k not in replace}
        merged = _merge(kept, own)
        shrink = pre.get("shrink", {})
        if not isinstance(shrink, dict) or any(
            k not in SHRINK_KEYS or not isinstance(v, int) or isinstance(v, bool) or v < 1
            for k, v in shrink.items()
        ):
            raise ConfigError(
                f"config key 'presets/{name}/shrink': expected a mapping of {SHRINK_KEYS} to "
                f"integers >= 1, got {shrink!r}"
            )
        _shrink(merged, shrink)
        merged["derived_from"] = parent
        out["presets"][name] = merged
    return out


def workflow_config(config: dict[str, Any]) -> dict[str, Any]:
    """The config exactly as the workflow sees it: derived presets resolved, then checked
    against the schema by Snakemake's ``validate``, which also fills the schema's defaults. The
    workflow (common.smk) and the audit both use it, so a recorded config hash can be recomputed.
    """
    from snakemake.exceptions import WorkflowError  # on demand: a heavy import
    from snakemake.utils import validate

    config = resolve_config(config)
    try:
        validate(config, str(SCHEMA_PATH))  # a wrong key or type stops here ...
    except WorkflowError:
        check_schema(config, load_schema())  # ... as "config key '<key>': ..."
        raise
    return config


def preset_data(config: dict[str, Any], preset: str) -> dict[str, Any]:
    """The data settings of a preset: the top-level ``data`` with the preset's ``data`` over it."""
    return {**config["data"], **config["presets"][preset].get("data", {})}


def check_device(config: dict[str, Any], preset: str) -> None:
    """``device: cuda`` where this process sees no CUDA device is an error naming the key.

    Called for local runs only: under a cluster executor the submitting host may have no GPU.
    """
    if config["presets"][preset]["device"] != "cuda":
        return
    import torch  # on demand: only presets that ask for a GPU pay for the import

    if not torch.cuda.is_available():
        raise ConfigError(
            f"config key 'presets/{preset}/device': 'cuda' but no CUDA device is visible on this "
            "machine; use 'auto' (GPU when present) or 'cpu', or submit through the SLURM profile"
        )


def validate_config(config: dict[str, Any]) -> None:
    """Schema validation plus the cross-references a schema cannot express.

    Raises :class:`ConfigError` naming the key at fault; nothing is run before this passes.
    Derived presets must have been resolved (:func:`resolve_config`).
    """
    if any(isinstance(p, dict) and "extends" in p for p in config.get("presets", {}).values()):
        raise ConfigError("derived presets (extends) must be resolved first: resolve_config()")
    for where in non_finite(config):
        raise ConfigError(f"config key '{where}': not a finite number")
    check_schema(config, load_schema())
    preset = config["preset"]
    if preset not in config["presets"]:
        raise ConfigError(
            f"config key 'preset': '{preset}' is not one of {sorted(config['presets'])}"
        )
    for name, ds in config["datasets"].items():
        if ds.get("target_mode") == "mixtures" and ds["kind"] != "gaussians":
            raise ConfigError(f"config key 'datasets/{name}/target_mode': only for gaussians")
    check_datasets(config["datasets"])
    for pname, pre in config["presets"].items():
        for sname, study in pre["studies"].items():
            key = f"presets/{pname}/studies/{sname}"
            if "epochs" in study and "steps" in study:
                raise ConfigError(f"config key '{key}/epochs': set steps or epochs, not both")
            if "log_every_epochs" in study and ("epochs" not in study or "log_every" in study):
                raise ConfigError(
                    f"config key '{key}/log_every_epochs': needs the budget in epochs, and no "
                    "log_every"
                )
            if study["dataset"] not in config["datasets"]:
                raise ConfigError(
                    f"config key '{key}/dataset': unknown dataset '{study['dataset']}'"
                )
            ds = config["datasets"][study["dataset"]]
            if study.get("task", "full") == "source" and ds["kind"] not in FEW_SHOT_SPLIT_KINDS:
                for side in ("source", "target"):
                    if not ds.get(f"{side}_classes"):
                        raise ConfigError(
                            f"config key '{key}/task': 'source' needs source and target classes, "
                            f"and 'datasets/{study['dataset']}/{side}_classes' is not set"
                        )
        if pre["gc_sampling"]["study"] not in pre["studies"]:
            raise ConfigError(
                f"config key 'presets/{pname}/gc_sampling/study': unknown study "
                f"'{pre['gc_sampling']['study']}'"
            )
        check_preset(config, pname)
        expand_runs(config, pname)  # raises on conflicting run definitions


def preset_config(config: dict[str, Any], preset: str) -> dict[str, Any]:
    """The part of the config that decides a preset's results: its settings, its data settings
    and the datasets it names. Its hash is what a provenance sidecar records and the audit
    compares; other presets' edits and result-neutral settings (checkpointing) do not change it."""
    pre = config["presets"][preset]
    training = {k: v for k, v in pre["training"].items() if k not in RESULT_NEUTRAL}
    names = {s["dataset"] for s in pre["studies"].values()} | set(
        pre.get("poincare", {}).get("datasets", [])
    )
    return {
        "preset": preset,
        "settings": {**pre, "training": training},
        "data": preset_data(config, preset),
        "datasets": {d: config["datasets"][d] for d in sorted(names) if d in config["datasets"]},
    }


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON form of ``obj`` (used in provenance sidecars)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()
