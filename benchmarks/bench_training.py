"""What a pretraining step and a job's start cost on this machine (the quick preset's budget).

Times SGD steps of `vgg_small` on Fashion-MNIST-sized inputs (1 x 28 x 28, 5 classes, one
thread) in the default memory layout and in channels_last, plain and with the GC penalty
(App. A.5.6), interleaved round after round (this VM's timings drift by tens of per cent), and
the start of a fresh Python process that imports torch (what every Snakemake job pays first).
    python benchmarks/bench_training.py [--rounds 3] [--steps 100]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

from gcnc.metrics.gc import embed_with_gc_penalty
from gcnc.models import build_model


def step_ms(layout: torch.memory_format, penalty: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = build_model("vgg_small", (1, 28, 28), 5).to(memory_format=layout)
    x = torch.randn(1500, 1, 28, 28).contiguous(memory_format=layout)
    y = torch.randint(0, 5, (1500,))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    probes = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(0, 1500, (batch,))
        if penalty:
            feats, gc = embed_with_gc_penalty(model.embed, x[idx], 1, probes)
            loss = torch.nn.functional.cross_entropy(model.head(feats), y[idx]) + 0.01 * gc
        else:
            loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - started) / steps * 1000


def process_start() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    layouts = (("default", torch.contiguous_format), ("channels_last", torch.channels_last))
    cases = [
        (name, layout, penalty, batch)
        for penalty, batches in ((False, (16, 64, 128)), (True, (64,)))
        for batch in batches
        for name, layout in layouts
    ]
    times: dict[tuple, list[float]] = {case: [] for case in cases}
    starts = []
    for _ in range(args.rounds):
        for case in cases:
            times[case].append(step_ms(case[1], case[2], case[3], args.steps))
        starts.append(process_start())
    print(f"torch {torch.__version__}, 1 thread, vgg_small width 8, {args.rounds} rounds")
    print("step                      layout          median ms   best ms")
    for (name, _, penalty, batch), ms in times.items():
        what = f"{'GC penalty' if penalty else 'plain'}, batch {batch}"
        print(f"{what:<25} {name:<15} {statistics.median(ms):9.1f} {min(ms):9.1f}")
    print(f"process start + import torch: median {statistics.median(starts):.2f} s")


if __name__ == "__main__":
    main()
