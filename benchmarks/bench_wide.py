"""gcnc.measure at research scale on the CPU (issue 34): wide embeddings, and `auto`'s budget.

wide: where the time of `gcnc.measure` goes for a wide embedding, with Hutchinson GC (16 probes)
on 20 random 32x32 images of 5 classes (random weights, seed 0): vgg11 (p = 4096) and a
convolution + flatten network (p = 16 x 32 x 32 = 16384; p8192: 8 channels). Each case runs in
a fresh process (peak RSS) against the gcnc found on PYTHONPATH, or on --src (e.g. an export of
an older commit: `git archive ea548e3 src | tar -x -C /tmp/before`), so before and after run
the same script. Phases: the model's forward passes (Embedding.features_and_logits, and the one
that finds the head), GC (the GC functions measure calls) and the rest, the metrics (input
checks, class statistics, NC1, ranks, NCM).

auto: estimator="auto" with a budget (gc_max_seconds) on resnet18, densenet121, vit_b_16
(image_size=32) and vgg11, 100 random 32x32 images of 5 classes, GC on all of them: what it
chose, what it predicted and how long GC took, pilot included.

    python benchmarks/bench_wide.py wide [--src /tmp/before/src]
    python benchmarks/bench_wide.py auto [--budgets 60 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

WIDE = ("vgg11", "p16384")
AUTO = ("resnet18", "densenet121", "vit_b_16", "vgg11")
GC_NAMES = ("balanced_gc", "plan_gc", "sampled_gc")  # before / after this issue


def build(name: str, classes: int):
    import torch
    from torch import nn
    from torchvision import models

    torch.manual_seed(0)
    if name.startswith("p"):  # p8192, p16384: conv (3 -> p / 1024 channels), ReLU, flatten
        channels = int(name[1:]) // (32 * 32)
        conv = nn.Conv2d(3, channels, 3, padding=1)
        return nn.Sequential(conv, nn.ReLU(), nn.Flatten(), nn.Linear(channels * 32 * 32, classes))
    extra = {"image_size": 32} if name.startswith("vit") else {}
    return models.get_model(name, num_classes=classes, **extra).eval()


def timed(module, name: str, totals: dict[str, float], key: str) -> None:
    """Wrap ``module.name`` so that its seconds add up in ``totals[key]``."""
    inner = getattr(module, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started

    setattr(module, name, wrapper)


def one_case(case: str, n: int, budget: float | None) -> dict:
    import torch

    import gcnc
    import gcnc.embedding as embedding
    import gcnc.measurement as measurement

    torch.set_num_threads(2)
    model = build(case, 5)
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.arange(n) % 5
    totals = {"forward": 0.0, "gc": 0.0}
    timed(embedding.Embedding, "features_and_logits", totals, "forward")
    timed(embedding, "_final_linear", totals, "forward")  # the forward pass finding the head
    for name in GC_NAMES:
        if hasattr(measurement, name):
            timed(measurement, name, totals, "gc")
    options = {"estimator": "hutchinson", "n_probes": 16} if budget is None else {}
    if budget is not None:
        options["gc_max_seconds"] = budget
    started = time.perf_counter()
    m = gcnc.measure(model, x, y, gc_examples=256, **options)
    total = time.perf_counter() - started
    return {
        "case": case,
        "p": m.embed_dim,
        "total_s": round(total, 2),
        "forward_s": round(totals["forward"], 2),
        "gc_s": round(totals["gc"], 2),
        "metrics_s": round(total - totals["forward"] - totals["gc"], 2),
        "metrics_share_of_total": round((total - totals["forward"] - totals["gc"]) / total, 4),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "estimator": m.gc_estimator,
        "probes": m.gc_probes,
        "gc": m.gc,
        "nc1": m.nc1,
        "rank": m.rank,
        "note": next((note for note in m.notes if note.startswith("GC estimator")), ""),
    }


def spawn(case: str, n: int, budget: float | None, src: str | None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    command = [sys.executable, __file__, "case", case, "--n", str(n)]
    command += [] if budget is None else ["--budget", str(budget)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"case": case, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["wide", "auto", "case"])
    parser.add_argument("name", nargs="?", help="case: vgg11, p8192, p16384, resnet18, ...")
    parser.add_argument("--src", help="PYTHONPATH of the gcnc to time (wide)")
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0, 10.0])
    parser.add_argument("--budget", type=float)
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--cases", nargs="+")
    args = parser.parse_args()
    if args.mode == "case":
        print(json.dumps(one_case(args.name, args.n, args.budget)))
        return
    src = str(Path(args.src).resolve()) if args.src else None
    if args.mode == "wide":
        for case in args.cases or WIDE:
            print(json.dumps(spawn(case, 20, None, src)), flush=True)
        return
    for budget in args.budgets:
        for case in args.cases or AUTO:
            row = spawn(case, 100, budget, src)
            print(json.dumps({"budget_s": budget, **row}), flush=True)


if __name__ == "__main__":
    main()
