"""`gcnc measure` on a torchvision ResNet-18: exact GC against Hutchinson, as a user runs it.

Saves a ResNet-18 with 10 classes (random weights, seed 0) as a state dict, then times the
command on real Fashion-MNIST (Debian's IDX files; grey repeated to RGB, ImageNet
normalisation) as fresh processes, alternating the estimators, and prints the wall time of each
run with the GC, its standard error and the Jacobian products the command reported.
    python benchmarks/bench_measure.py [--repeats 2] [--examples 64]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision

DATA = "/usr/share/datasets/fashion-mnist"


def run(weights: Path, estimator: str, examples: int) -> tuple[float, dict]:
    command = [
        sys.executable, "-m", "gcnc.cli", "measure", "resnet18", DATA, "--weights", str(weights),
        "--max-examples", str(examples), "--gc-examples", str(examples),
        "--estimator", estimator, "--json", "--quiet",
    ]  # fmt: skip
    started = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - started, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--examples", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        weights = Path(tmp) / "resnet18_10.pt"
        torch.save(torchvision.models.resnet18(num_classes=10).state_dict(), weights)
        print(f"ResNet-18, {args.examples} Fashion-MNIST test images (28x28), {torch.__version__}")
        print("estimator   wall (s)   GC +- s.e.          GC examples   note")
        for _ in range(args.repeats):
            for estimator in ("exact", "hutchinson"):
                wall, m = run(weights, estimator, args.examples)
                note = next((n for n in m["notes"].split("; ") if n.startswith("GC est")), "")
                print(
                    f"{estimator:<11} {wall:8.1f}   {m['gc']:.3f} +- {m['gc_stderr']:.3f}"
                    f"   {m['gc_examples']:>11}   {note}"
                )


if __name__ == "__main__":
    main()
