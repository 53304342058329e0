"""Checks of the study config that a JSON schema cannot express, each naming the key at fault,
and the schema check itself (:func:`check_schema`) in the same `config key '...'` form.

Dataset sizes are known per kind without loading anything (the published class counts; the
smallest class where classes differ), so a batch larger than a run's training set, a class index
out of range or a few-shot episode that no target class can fill is an error before any job runs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import jsonschema

# kind -> (classes, training images per class, test images per class); smallest class if unequal
KNOWN_SIZES = {
    "mnist": (10, 5421, 892),
    "fashion_mnist": (10, 6000, 1000),
    "cifar10": (10, 5000, 1000),
    "cifar100": (100, 500, 100),
    "cifar_fs": (100, 500, 100),
    "mini_imagenet": (100, 500, 100),  # 600 images per class, split 5:1
}
FEW_SHOT_SPLIT = {"source": 64, "target": 20}  # CIFAR-FS and mini-ImageNet (val classes unused)
FEW_SHOT_SPLIT_KINDS = ("cifar_fs", "mini_imagenet")  # datasets whose class split is their own
DIGITS_SMALLEST_CLASS = 174  # scikit-learn's digits: 174 to 183 images per class
# generated data (gcnc.study.data.synthetic): the keys that decide the training examples of a class;
# extra target classes (target_mode: mixtures) are drawn after the others and change nothing
GENERATOR_KEYS = {
    "gaussians": ("n_classes", "dim", "n_train", "mean_radius", "variance_range", "seed"),
    "uniform_boxes": ("n_classes", "dim", "n_train", "mean_radius", "side_range", "seed"),
}


class ConfigError(ValueError):
    """The study configuration is invalid; the message names the offending key."""


def check_schema(config: dict[str, Any], schema: dict[str, Any]) -> None:
    """A :class:`ConfigError` ``config key '<path>': <what is wrong>`` for the schema error that
    best explains why ``config`` does not fit ``schema``; nothing if it fits."""
    try:
        jsonschema.validate(config, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "<top level>"
        raise ConfigError(f"config key '{where}': {err.message}") from None


def non_finite(obj: Any, path: str = "") -> Iterator[str]:
    """Paths of every NaN or infinite number in a nested config."""
    if isinstance(obj, float) and not math.isfinite(obj):
        yield path or "<top level>"
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from non_finite(v, f"{path}/{k}" if path else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from non_finite(v, f"{path}/{i}")


def dataset_sizes(spec: dict[str, Any]) -> tuple[int, int, int]:
    """(classes, training examples per class, test examples per class), smallest class."""
    kind = spec["kind"]
    if kind in ("gaussians", "uniform_boxes"):
        extra = spec["n_classes"] // 2 if spec.get("target_mode") == "mixtures" else 0
        return spec["n_classes"] + extra, spec["n_train"], spec["n_test"]
    if kind == "digits":
        test = math.ceil(DIGITS_SMALLEST_CLASS * spec.get("test_fraction", 0.3))
        return 10, DIGITS_SMALLEST_CLASS - test - 1, test - 1  # stratified split rounds
    classes, train, test = KNOWN_SIZES[kind]
    return (
        classes,
        min(train, spec.get("train_per_class", train)),
        min(test, spec.get("test_per_class", test)),
    )


def check_datasets(datasets: dict[str, Any]) -> None:
    """Class indices in range and source/target classes disjoint."""
    for name, spec in datasets.items():
        n_classes = dataset_sizes(spec)[0]
        for key in ("source_classes", "target_classes"):
            bad = [c for c in spec.get(key, []) if c >= n_classes]
            if bad:
                raise ConfigError(
                    f"config key 'datasets/{name}/{key}': classes {bad} out of range; "
                    f"'{spec['kind']}' has classes 0..{n_classes - 1}"
                )
        both = sorted(set(spec.get("source_classes", [])) & set(spec.get("target_classes", [])))
        if both:
            raise ConfigError(
                f"config key 'datasets/{name}/target_classes': classes {both} are also source "
                "classes; transfer needs classes unseen in pretraining"
            )


def _task_classes(spec: dict[str, Any], which: str) -> int:
    if which == "full":
        return dataset_sizes(spec)[0]
    if spec.get(f"{which}_classes"):
        return len(spec[f"{which}_classes"])
    return FEW_SHOT_SPLIT[which]  # FEW_SHOT_SPLIT_KINDS: the split is part of the dataset


def training_examples(spec: dict[str, Any], task: str) -> int:
    """Training examples of a run of ``task`` on dataset ``spec`` (classes times the smallest
    class): what a budget in epochs counts."""
    return _task_classes(spec, task) * dataset_sizes(spec)[1]


def training_data(spec: dict[str, Any], task: str) -> tuple | None:
    """What a run of ``task`` trains on, for generated data: the generator's settings and the
    classes; None for data read from files (each dataset name is its own data)."""
    keys = GENERATOR_KEYS.get(spec["kind"])
    if keys is None:
        return None
    classes = range(_task_classes(spec, "full")) if task == "full" else spec[f"{task}_classes"]
    return (spec["kind"], *(repr(spec.get(k)) for k in keys), tuple(classes))


def check_shared_training_data(config: dict[str, Any], name: str) -> None:
    """Two studies that train on the same generated data under two dataset names would train the
    same runs twice and count them twice: an error naming the second study's dataset key."""
    seen: dict[tuple, tuple[str, str]] = {}
    for sname, study in config["presets"][name]["studies"].items():
        data = training_data(config["datasets"][study["dataset"]], study.get("task", "full"))
        if data is None:
            continue
        first, dataset = seen.setdefault(data, (sname, study["dataset"]))
        if dataset != study["dataset"]:
            raise ConfigError(
                f"config key 'presets/{name}/studies/{sname}/dataset': '{study['dataset']}' "
                f"trains on the same generated data as '{dataset}' (study {first}); give both "
                "studies the same dataset (and task), so that their runs are trained once and "
                "counted once"
            )


def check_preset(config: dict[str, Any], name: str) -> None:
    """Batch sizes within each run's training set; few-shot episodes the target classes can fill;
    dataset names in lists known; no training data under two names."""
    pre = config["presets"][name]
    datasets = config["datasets"]
    check_shared_training_data(config, name)
    for sname, study in pre["studies"].items():
        spec = datasets[study["dataset"]]
        task = study.get("task", "full")
        n_train = training_examples(spec, task)
        sizes = [study["base"]["batch_size"], *study.get("sweep", {}).get("batch_size", [])]
        for i, bs in enumerate(sizes):
            if bs > n_train:
                key = "base/batch_size" if i == 0 else f"sweep/batch_size/{i - 1}"
                raise ConfigError(
                    f"config key 'presets/{name}/studies/{sname}/{key}': batch size {bs} exceeds "
                    f"the {n_train} training examples of '{study['dataset']}' ({task} classes)"
                )
        if task == "source":
            _check_fewshot(pre["fewshot"], spec, f"presets/{name}/fewshot", study["dataset"])
    if "finetune" in pre:
        check_finetune(pre, datasets, f"presets/{name}/finetune")
    for i, ds in enumerate(pre["poincare"].get("datasets", [])):
        if ds not in datasets:
            raise ConfigError(
                f"config key 'presets/{name}/poincare/datasets/{i}': unknown dataset '{ds}'; "
                f"choose from {sorted(datasets)}"
            )


def _check_fewshot(cfg: dict[str, Any], spec: dict[str, Any], key: str, dataset: str) -> None:
    n_target = _task_classes(spec, "target")
    _, train, test = dataset_sizes(spec)
    for way in cfg["ways"]:
        if way > n_target:
            raise ConfigError(
                f"config key '{key}/ways': {way}-way episodes but '{dataset}' has {n_target} "
                "target classes"
            )
    need = max(cfg["shots"]) + cfg["queries"]
    if need > train + test:
        raise ConfigError(
            f"config key '{key}/queries': {max(cfg['shots'])} shots + {cfg['queries']} queries "
            f"need {need} examples per class; '{dataset}' has {train + test} per target class"
        )


def check_finetune(pre: dict[str, Any], datasets: dict[str, Any], key: str) -> None:
    """Fine-tuning (gcnc.study.transfer.finetune): its studies exist and pretrain on source
    classes; the batch
    fits the target training set; the test subset has two examples per target class or more."""
    cfg = pre["finetune"]
    sources = [n for n, s in pre["studies"].items() if s.get("task", "full") == "source"]
    for i, study in enumerate(cfg.get("studies", sources)):
        if study not in sources:
            raise ConfigError(
                f"config key '{key}/studies/{i}': '{study}' is not a study of task source of "
                f"this preset; choose from {sources}"
            )
    for study in cfg.get("studies", sources):
        name = pre["studies"][study]["dataset"]
        spec = datasets[name]
        k = _task_classes(spec, "target")
        per_class = min(dataset_sizes(spec)[1], cfg.get("train_per_class", math.inf))
        if cfg["batch_size"] > k * per_class:
            raise ConfigError(
                f"config key '{key}/batch_size': {cfg['batch_size']} exceeds the {k * per_class} "
                f"target training examples of '{name}' (study {study})"
            )
        if cfg["eval_examples"] < 2 * k:
            raise ConfigError(
                f"config key '{key}/eval_examples': {cfg['eval_examples']} gives fewer than 2 "
                f"test examples to each of the {k} target classes of '{name}' (study {study})"
            )
