"""The study configuration: loading, schema validation, and expansion of a preset into runs.

One file (params.yaml) is read by Snakemake and by DVC. This module is the single place
that turns a preset's studies (a base point plus one-knob sweeps, as in the rows of the paper's
Fig. 1 and Fig. 4) into the concrete grid of pretraining runs.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gcnc.constants import RESULT_NEUTRAL
from gcnc.validation import (
    ConfigError,
    check_datasets,
    check_preset,
    check_schema,
    non_finite,
    training_examples,
)

SCHEMA_PATH = Path(__file__).parent / "schemas" / "config.schema.yaml"
RESOURCES_SCHEMA_PATH = SCHEMA_PATH.with_name("resources.schema.yaml")
RESOURCES_PATH = "profiles/resources.yaml"  # relative to the repository root
KNOBS = ("lr", "batch_size", "weight_decay", "gc_reg")


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
    lr_schedule: str = "constant"
    log_every: int | None = None  # the study's own metric interval; None: the preset's
    epochs: int | None = None  # the budget when the study sets it in epochs (steps derived)

    @property
    def model_label(self) -> str:
        """The model options, e.g. ``+width~16`` (empty for the architecture's defaults)."""
        return "".join(f"+{k}~{v}" for k, v in sorted(self.model.items()))

    @property
    def budget(self) -> str:
        """The training budget as the run id and the comparison group name it: ``steps~1500``
        or, for a study budgeted in passes over the data, ``epochs~64``."""
        return f"epochs~{self.epochs}" if self.epochs else f"steps~{self.steps}"

    @property
    def run_id(self) -> str:
        """Readable, path-safe id naming every field: ``<dataset>-<arch><+option~value>-<task>
        _lr~.._<schedule>_bs~.._wd~.._gc~.._<steps~.. or epochs~..>_seed~..``."""
        return (
            f"{self.dataset}-{self.arch}{self.model_label}-{self.task}"
            f"_lr~{self.lr:g}_{self.lr_schedule}_bs~{self.batch_size}_wd~{self.weight_decay:g}"
            f"_gc~{self.gc_reg:g}_{self.budget}_seed~{self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields (``log_every`` and ``epochs`` only where the study sets them, so that runs
        without them keep the settings, and checkpoint fingerprints, they had before the keys)."""
        fields = asdict(self)
        for key in ("log_every", "epochs"):
            if fields[key] is None:
                del fields[key]
        return fields

    def log_interval(self, training: dict[str, Any]) -> int:
        """Steps between metric logs: the study's ``log_every``, else ``training['log_every']``."""
        return self.log_every or int(training["log_every"])


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
            if (
                study.get("task", "full") == "source"
                and ds["kind"] not in ("cifar_fs", "mini_imagenet")
                and not ds.get("target_classes")
            ):
                raise ConfigError(
                    f"config key '{key}/task': 'source' needs target classes, and "
                    f"'datasets/{study['dataset']}/target_classes' is not set"
                )
        if pre["gc_sampling"]["study"] not in pre["studies"]:
            raise ConfigError(
                f"config key 'presets/{pname}/gc_sampling/study': unknown study "
                f"'{pre['gc_sampling']['study']}'"
            )
        check_preset(config, pname)
        expand_runs(config, pname)  # raises on conflicting run definitions


def study_schedule(preset: dict[str, Any], study: str) -> str:
    """The learning-rate schedule of a study's runs: the study's ``lr_schedule``, else the
    preset's ``training.lr_schedule``, else ``constant``."""
    default = preset["training"].get("lr_schedule", "constant")
    return preset["studies"][study].get("lr_schedule", default)


def study_points(study: dict[str, Any]) -> list[dict[str, Any]]:
    """A study's grid points: its base point, plus the base with one knob changed per sweep
    value; with ``lr_scales_with_batch`` each batch size trains at base lr * B / base B."""
    base = study["base"]
    points = [dict(base)]
    for knob in KNOBS:
        for value in study.get("sweep", {}).get(knob, []):
            point = dict(base, **{knob: value})
            if study.get("lr_scales_with_batch") and knob == "batch_size":
                point["lr"] = base["lr"] * value / base["batch_size"]
            if point not in points:
                points.append(point)
    return points


def epochs_to_steps(epochs: float, examples: int, batch_size: int) -> int:
    """SGD steps of ``epochs`` passes over ``examples`` in batches of ``batch_size``."""
    return max(1, math.ceil(epochs * examples / batch_size))


def study_runs(config: dict[str, Any], preset: str, study: str) -> list[RunSpec]:
    """Runs of one study: every grid point (:func:`study_points`) for every seed. A budget in
    ``epochs`` (and a ``log_every_epochs`` interval) becomes steps per batch size, from the
    training examples of the study's task (:func:`gcnc.validation.training_examples`)."""
    pre = config["presets"][preset]
    s = pre["studies"][study]
    task = s.get("task", "full")
    examples = training_examples(config["datasets"][s["dataset"]], task)

    def budget(bs: int) -> tuple[int, int | None]:
        if "epochs" not in s:
            return int(s.get("steps", pre["training"]["steps"])), s.get("log_every")
        log = s.get("log_every_epochs")
        every = epochs_to_steps(log, examples, bs) if log else s.get("log_every")
        return epochs_to_steps(s["epochs"], examples, bs), every

    return [
        RunSpec(
            dataset=s["dataset"],
            arch=s["arch"],
            task=task,
            lr=float(p["lr"]),
            batch_size=int(p["batch_size"]),
            weight_decay=float(p["weight_decay"]),
            gc_reg=float(p["gc_reg"]),
            seed=seed,
            steps=budget(int(p["batch_size"]))[0],
            model=dict(s.get("model", {})),
            lr_schedule=study_schedule(pre, study),
            log_every=budget(int(p["batch_size"]))[1],
            epochs=s.get("epochs"),
        )
        for seed in s["seeds"]
        for p in study_points(s)
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
