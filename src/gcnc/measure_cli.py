"""gcnc measure MODEL DATA: embedding GC and neural collapse of a saved network on a data set
(gcnc.measure), printed as a table, as JSON (--json) or as CSV (--csv); progress lines and the GC
estimator chosen go to stderr.

MODEL: a torchvision model name with --weights (a state-dict file, or a torchvision weights name
such as DEFAULT, which torchvision downloads; random weights drawn with --seed without it), or a
run of this project's study (its folder results/<preset>/runs/<run_id>, its final.pt or one of
its checkpoints/step_*.pt).
DATA: a folder of IDX files (MNIST layout; --split), an image folder (one subfolder of images per
class, classes in sorted order) or a .npz with arrays x and y.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from gcnc.measure_io import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MeasureInputError,
    Normalised,
    channel_stats,
    first_conv_channels,
    load_dataset,
    load_study_model,
    load_torchvision_model,
    subsample,
)
from gcnc.measurement import GC_EXAMPLES, check_options, measure
from gcnc.metrics.gc_plan import GC_MAX_SECONDS, GC_TARGET_RSE


def add_parser(sub: Any) -> None:
    """The ``measure`` subcommand and its options."""
    m = sub.add_parser(
        "measure",
        help="GC and neural collapse of a saved network on a data set",
        description=__doc__,
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
    m.add_argument("--max-examples", type=int, help="measure a random subset of this size")
    m.add_argument(
        "--layer", help="embedding = this layer's output (default: final Linear's input)"
    )
    m.add_argument("--estimator", choices=["auto", "exact", "hutchinson"], default="auto")
    m.add_argument("--n-probes", type=int, help="Hutchinson probes per example")
    m.add_argument(
        "--gc-examples", type=int, default=GC_EXAMPLES, help="examples GC is measured on"
    )
    m.add_argument(
        "--gc-max-seconds",
        type=float,
        default=GC_MAX_SECONDS,
        help="auto: exact GC when predicted to take at most this long, else Hutchinson",
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


def _prepare(args: argparse.Namespace) -> tuple[Any, Any, dict[str, str]]:
    """The model on its device, the normalised data, and what they are."""
    device = _device(args.device)
    data, data_text = load_dataset(args.data, args.split, args.image_size)
    data = subsample(data, args.max_examples, args.seed)
    if args.max_examples is not None:
        data_text += f", a random subset of {len(data)}"
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


def _finite_or_none(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def run(args: argparse.Namespace) -> int:
    """Run ``gcnc measure``; exit code 0, or 2 with one line naming what is wrong."""
    started = time.perf_counter()
    try:
        for name in ("max_examples", "image_size"):
            if getattr(args, name) is not None and getattr(args, name) < 1:
                raise MeasureInputError(f"--{name.replace('_', '-')}: must be positive")
        check_options(
            args.estimator,
            {"gc_max_seconds": args.gc_max_seconds, "gc_target_rse": args.gc_target_rse},
            n_probes=args.n_probes,
            gc_examples=args.gc_examples,
            batch_size=args.batch_size,
        )
        model, data, described = _prepare(args)
        if not args.quiet:
            print(f"measure: {described['model']}; {described['data']}", file=sys.stderr)
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
            progress=not args.quiet,
        )
    except (MeasureInputError, ValueError, TypeError) as err:
        print(f"gcnc measure: error: {err}", file=sys.stderr)
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
