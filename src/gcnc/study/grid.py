"""The grid of a preset: each study's points (a base point plus one-knob sweeps, as the rows of
the paper's Fig. 1 and Fig. 4) for each seed, as :class:`RunSpec` runs, decided here once."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from gcnc.study.validation import ConfigError, training_examples

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
    training examples of the study's task (:func:`gcnc.study.validation.training_examples`)."""
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
