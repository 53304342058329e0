"""``gcnc measure MODEL DATA``: embedding GC and neural collapse of a saved network on a data set
(:func:`gcnc.measure`), printed as a table, as JSON or as CSV.

A user's mistake ends in one line on stderr, ``gcnc measure: error: <flag or argument>: ...``,
and exit code 2, never a traceback: options are checked by flag name, MODEL and DATA by
:mod:`gcnc.measure_io` and :mod:`gcnc.measure_data`, and an exception raised inside the model's
forward pass (caught by a forward pre-hook / hook pair that tells whether the model was running)
becomes one line with a hint (the image size a ViT takes). Errors of :func:`gcnc.measure` that
name its arguments are given the flags' names.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gcnc.measure_data import Normalised, channel_stats, load_dataset, stratified_subset
from gcnc.measure_io import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MeasureInputError,
    first_conv_channels,
    first_line,
    load_study_model,
    load_torchvision_model,
)
from gcnc.measurement import GC_EXAMPLES, measure
from gcnc.metrics.gc_plan import GC_MAX_SECONDS, GC_TARGET_RSE

DESCRIPTION = """\
Embedding GC and neural collapse (NC, geometric collapse, NC1-NC4, ranks, accuracy) of a saved
network on a data set, printed as a table, as JSON (--json) or as CSV (--csv). Progress lines and
the GC estimator chosen go to stderr.

MODEL is a torchvision model name (random weights drawn with --seed, or --weights: a state-dict
file or a torchvision weights name such as DEFAULT), or a run of this project's study: its folder
results/<preset>/runs/<run_id>, its final.pt or one of its checkpoints/step_*.pt.

DATA is a .npz with arrays x (inputs) and y (integer labels), a folder of IDX files (MNIST
layout, --split) or an image folder (one subfolder of images per class). Integer pixels are
scaled to [0, 1]; an (N, H, W) array is read as grey images."""

EXAMPLES = """\
examples:
  gcnc measure resnet18 images/ --weights resnet18.pt
  gcnc measure vit_b_16 images/ --weights DEFAULT --image-size 224 --max-examples 500
  gcnc measure results/quick/runs/<run_id> data.npz --json
  gcnc measure resnet18 /usr/share/datasets/fashion-mnist --estimator hutchinson --n-probes 8
  gcnc measure resnet18 images/ --csv --detail per_class/ > resnet18.csv"""

POSITIVE_INTS = ("max_examples", "image_size", "n_probes", "gc_examples", "batch_size")
POSITIVE_NUMBERS = ("gc_max_seconds", "gc_target_rse")
FLAG_OF = {  # names in errors of gcnc.measure -> the command line's
    "embed": "--layer",
    "data": "DATA",
    "labels": "DATA (labels)",
    "model": "MODEL",
    "n_probes": "--n-probes",
    "gc_examples": "--gc-examples",
    "batch_size": "--batch-size",
    "gc_max_seconds": "--gc-max-seconds",
    "gc_target_rse": "--gc-target-rse",
}


def add_parser(sub: Any) -> None:
    """The ``measure`` subcommand and its options."""
    m = sub.add_parser(
        "measure",
        help="GC and neural collapse of a saved network on a data set",
        description=DESCRIPTION,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("model", help="torchvision model name, or a study run folder / .pt file")
    m.add_argument("data", help="IDX folder, image folder, or .npz with arrays x and y")
    m.add_argument("--weights", help="state-dict file, or a torchvision weights name")
    m.add_argument("--split", choices=["test", "train"], default="test", help="IDX split")
    m.add_argument("--image-size", type=int, help="resize images to this size (square)")
    m.add_argument(
        "--normalize",
        choices=["auto", "data", "imagenet", "none"],
        default="auto",
        help="per-channel standardisation after scaling images to [0, 1]: the data's own mean "
        "and std, ImageNet's, or none; auto: imagenet for torchvision models, data for study runs",
    )
    m.add_argument(
        "--max-examples", type=int, help="measure a random subset of this size, as many per class"
    )
    m.add_argument(
        "--layer", help="embedding = this layer's output (default: final Linear's input)"
    )
    m.add_argument("--estimator", choices=["auto", "exact", "hutchinson"], default="auto")
    m.add_argument("--n-probes", type=int, help="Hutchinson probes per example (default 16)")
    m.add_argument(
        "--gc-examples", type=int, default=GC_EXAMPLES, help="examples GC is measured on"
    )
    m.add_argument(
        "--gc-max-seconds",
        type=float,
        default=GC_MAX_SECONDS,
        help="auto: exact GC when a timed pilot predicts at most this long, else Hutchinson",
    )
    m.add_argument(
        "--gc-target-rse",
        type=float,
        default=GC_TARGET_RSE,
        help="auto: Hutchinson probes for this relative standard error of GC from the probes",
    )
    m.add_argument("--batch-size", type=int, default=64)
    m.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1")
    m.add_argument(
        "--seed",
        type=int,
        default=0,
        help="draws the subset, the GC examples, the probes, and random weights without --weights",
    )
    m.add_argument(
        "--detail", metavar="FOLDER", help="write classes.csv, means.npy and cdnv.npy there"
    )
    out = m.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--csv", action="store_true", help="print a CSV header and row")
    m.add_argument("--quiet", action="store_true", help="no progress lines")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MeasureInputError(f"--device: '{name}' requested but CUDA is not available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise MeasureInputError(f"--device: '{name}' is not a torch device") from None


def _check_flags(args: argparse.Namespace) -> None:
    """Every numeric option in range, each error naming its flag."""
    for name in POSITIVE_INTS + POSITIVE_NUMBERS:
        value = getattr(args, name)
        if value is not None and not (value > 0 and math.isfinite(value)):
            kind = "integer" if name in POSITIVE_INTS else "number"
            flag = "--" + name.replace("_", "-")
            raise MeasureInputError(f"{flag}: expected a positive {kind}, got {value}")


def _prepare(args: argparse.Namespace) -> tuple[Any, Any, dict[str, str]]:
    """The model on its device, the normalised data, and what they are."""
    device = _device(args.device)
    data, data_text = load_dataset(args.data, args.split, args.image_size)
    if args.max_examples is not None and args.max_examples < len(data):
        data = stratified_subset(data, args.max_examples, args.seed)
        data_text += f", a class-stratified random subset of {len(data)}"
    shape = tuple(data[0][0].shape)
    if Path(args.model).exists():
        if args.weights:
            raise MeasureInputError("--weights: a study run brings its own weights")
        model, model_text = load_study_model(Path(args.model), shape)
        default_norm = "data"
    else:
        model, model_text = load_torchvision_model(args.model, args.weights, args.seed)
        default_norm = "imagenet"
    norm = default_norm if args.normalize == "auto" else args.normalize
    channels = first_conv_channels(model) or (shape[0] if len(shape) == 3 else 1)
    if norm == "imagenet":
        if channels != 3:
            raise MeasureInputError("--normalize imagenet: the network does not take RGB images")
        mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    elif norm == "data":
        mean, std = channel_stats(data, args.batch_size)
    else:
        mean, std = torch.zeros(1), torch.ones(1)
    if len(shape) == 3 and shape[0] == 1 and channels > 1:
        data_text += f", grey repeated to {channels} channels"
    described = {"model": model_text, "data": data_text, "normalize": norm}
    return model.to(device), Normalised(data, mean, std, channels), described


def _hint(model: nn.Module, shape: tuple[int, ...]) -> str:
    """What to try when ``model`` fails on inputs of ``shape`` (C, H, W)."""
    size = getattr(model, "image_size", None)
    if isinstance(size, int) and len(shape) == 3 and shape[1:] != (size, size):
        return f"; the model takes {size}x{size} images: add --image-size {size}"
    shown = "x".join(map(str, shape))
    return f"; its inputs were {shown}" + (
        " (--image-size resizes images)" if len(shape) == 3 else ""
    )


@contextmanager
def model_errors(model: nn.Module, shape: tuple[int, ...]) -> Iterator[None]:
    """An exception raised while ``model``'s forward pass runs becomes a MeasureInputError
    (one line and a hint); hooks tell whether it ran, and are removed on the way out."""
    running = [False]
    hooks = [
        model.register_forward_pre_hook(lambda *_: running.__setitem__(0, True)),
        model.register_forward_hook(lambda *_: running.__setitem__(0, False)),
    ]
    try:
        yield
    except Exception as err:
        if not running[0] or isinstance(err, MeasureInputError):
            raise
        raise MeasureInputError(
            f"MODEL: failed on the data ({first_line(err)}){_hint(model, shape)}"
        ) from None
    finally:
        for hook in hooks:
            hook.remove()


def _flagged(err: Exception) -> str:
    """The first line of an error of gcnc.measure, its argument renamed to the flag."""
    lines = str(err).strip().splitlines() or [type(err).__name__]
    name, sep, rest = lines[0].partition(":")
    key = name.split(" ")[0]
    return f"{FLAG_OF[key]}{name[len(key) :]}{sep}{rest}" if sep and key in FLAG_OF else lines[0]


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    """Run ``gcnc measure``; exit code 0, or 2 with one line naming what is wrong."""
    started = time.perf_counter()
    try:
        _check_flags(args)
        model, data, described = _prepare(args)
        if not args.quiet:
            print(f"measure: {described['model']}; {described['data']}", file=sys.stderr)
        with model_errors(model, tuple(data[0][0].shape)):
            result = measure(
                model,
                data,
                embed=args.layer,
                estimator=args.estimator,
                n_probes=args.n_probes,
                gc_examples=args.gc_examples,
                gc_max_seconds=args.gc_max_seconds,
                gc_target_rse=args.gc_target_rse,
                batch_size=args.batch_size,
                seed=args.seed,
                detail=args.detail is not None,
                progress=not args.quiet,
            )
        if args.detail is not None:
            try:
                written = result.detail.save(args.detail)
            except OSError as err:
                raise MeasureInputError(f"--detail: {first_line(err)}") from None
            if not args.quiet:
                print(f"measure: wrote {', '.join(map(str, written))}", file=sys.stderr)
    except MeasureInputError as err:
        print(f"gcnc measure: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OSError) as err:
        print(f"gcnc measure: error: {_flagged(err)}", file=sys.stderr)
        return 2
    seconds = time.perf_counter() - started
    row = {**described, **result.to_dict(), "seconds": round(seconds, 3)}
    if args.json:
        print(json.dumps({k: _finite_or_none(v) for k, v in row.items()}, indent=2))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(row), lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)
    else:
        print(f"model      {described['model']}\ndata       {described['data']}")
        print(f"normalize  {described['normalize']}\n{result}\nseconds    {seconds:.1f}")
    return 0
