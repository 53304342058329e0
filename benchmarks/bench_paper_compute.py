"""Predicted compute of a preset (issue 15 item 5), from gcnc.study.theory.compute; prints markdown
tables.

1. Per model of the preset: counted forward GFLOPs per example and the cost ratios, then one
   training step and one logging step timed on this CPU at a small batch (1 thread), predicted
   (FLOP) against measured (seconds) logging / training ratio; the H100 calibration and its
   held-out checks.
2. Per study: runs, predicted H100 hours of training and of metric logging, logging share,
   few-shot GPU hours, disk; totals over distinct runs, with the Fig. 2 job.
3. Suggested SLURM runtime / mem_mb per (arch, dataset) against the preset's current request.
    python benchmarks/bench_paper_compute.py [--preset paper] [--skip-cpu]
        [--metrics '{"gc_probes": 8}'] [--training '{"eval_examples": 2000, "log_every": 1500}']
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from collections import defaultdict
from collections.abc import Callable

import torch

from gcnc.metrics.gc import gc_terms
from gcnc.metrics.slope import path_slope
from gcnc.metrics.snapshot import snapshot
from gcnc.models import build_model
from gcnc.study.config import load_config
from gcnc.study.grid import expand_runs, study_runs
from gcnc.study.pretraining.sgd import train_loss
from gcnc.study.theory import compute as C
from gcnc.study.theory import flops as F

CPU_FLOPS = 40e9  # one CPU thread, for jobs that would land on a node without a GPU (CPU check)
PROBES = 4  # Hutchinson probes of the timed logging step
CLASSES = 4  # head of the timed models: every class present in a small batch


def best(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def cpu_check(arch: str, shape: tuple[int, ...], batch: int, repeats: int, reg: bool) -> str:
    """Row: a training step and a logging step (snapshot of two splits + slope) on the CPU."""
    torch.manual_seed(0)
    model = build_model(arch, shape, CLASSES)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = torch.randn(batch, *shape), torch.arange(batch) % CLASSES
    gen = torch.Generator().manual_seed(0)

    def train(gc_reg: float) -> None:
        model.train()
        _, total = train_loss(model, x, y, gc_reg, 1, gen)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()

    def log(full: bool) -> None:
        for split in ("train", "test"):
            if full:  # what pretrain logs: GC, NC and the other metrics
                snapshot(
                    model, x, y, CLASSES, estimator="hutchinson", n_probes=PROBES, generator=gen
                )
            else:  # the part the FLOP count covers
                gc_terms(model.embed, x, "hutchinson", n_probes=PROBES, generator=gen)
            if split == "train":
                path_slope(model, x, y)

    cost = F.model_cost(arch, shape, CLASSES)
    metrics = {"gc_estimator": "hutchinson", "gc_probes": PROBES}
    step_f = C.train_step_cost(cost, batch, 0.0, 1, None)[0]
    t_train = best(lambda: train(0.0), repeats)
    if reg:  # the GC penalty step against a plain one
        pred = C.train_step_cost(cost, batch, 1.0, 1, None)[0] / step_f
        meas, full = best(lambda: train(1.0), repeats) / t_train, float("nan")
        what = "penalty step / step"
    else:
        pred = C.log_cost(cost, (batch, batch), metrics, False, None)[0] / step_f
        meas = best(lambda: log(False), repeats) / t_train
        full = best(lambda: log(True), repeats) / t_train
        what = f"log step ({PROBES} probes) / step"
    gflops = step_f / t_train / 1e9
    return (
        f"| {arch} {'x'.join(map(str, shape))} | {batch} | {t_train:.3f} | {gflops:.0f} | {what} "
        f"| {pred:.2f} | {meas:.2f} | {meas / pred:.2f} | {full:.2f} |"
    )


def model_rows(config: dict, preset: str, repeats: int, skip_cpu: bool) -> None:
    models = {(s.arch, F.DATASETS[s.dataset][2]): s for s in expand_runs(config, preset).values()}
    print(
        "| model | fwd GFLOP/ex | train / fwd | VJP / fwd | penalty probe / fwd | ops: step, "
        "VJP, probe | retained MB/ex | params (M) |\n|---|---|---|---|---|---|---|---|"
    )
    for (arch, shape), spec in sorted(models.items()):
        c = F.spec_cost(spec)
        print(
            f"| {arch} {'x'.join(map(str, shape))} | {c.forward / 1e9:.3f} | "
            f"{c.train / c.forward:.2f} | {c.vjp / c.forward:.2f} | "
            f"{c.penalty_probe / c.forward:.2f} | {c.ops_train}, {c.ops_vjp}, "
            f"{c.ops_penalty_probe} | {c.saved_bytes / 1e6:.2f} | {c.n_params / 1e6:.2f} |"
        )
    tp, r18 = C.h100(), F.model_cost("resnet18", (3, 32, 32), 100)
    print(
        f"\nH100 calibration: R = {tp.flops_per_s / 1e12:.1f} TFLOP/s sustained, t_op = "
        f"{tp.seconds_per_op * 1e6:.1f} us per aten op. Held-out H100 measurements:\n"
    )
    print("| ResNet-18 GC | copies | predicted (s) | measured (s) |\n|---|---|---|---|")
    for label, n, est, k, copies, measured in (
        ("plain VJP loop, n = 256", 256, "exact", 0, 1, 2.115),
        ("gcnc exact, n = 16", 16, "exact", 0, None, 0.146),
        ("gcnc Hutchinson 16 probes, n = 256", 256, "hutchinson", 16, None, 0.059 * 1.884),
    ):
        m = copies or C.stack_copies(r18, n, k or r18.embed_dim, tp)
        pred = C.gc_cost(r18, n, est, k, tp, copies=m)[1]
        print(f"| {label} | {m} | {pred:.3f} | {measured:.3f} |")
    if skip_cpu:
        return
    print(f"\nCPU check ({torch.get_num_threads()} thread, best of {repeats}):\n")
    print(
        "| model | batch | train step (s) | GFLOP/s | ratio | predicted (FLOPs) | measured, GC + "
        "slope (time) | measured / predicted | measured, whole log step |\n"
        "|---|---|---|---|---|---|---|---|---|"
    )
    for arch, shape in sorted(models):
        batch = 8 if F.model_cost(arch, shape, CLASSES).forward < 2e9 else 4
        print(cpu_check(arch, shape, batch, repeats, reg=False), flush=True)
    if any(s.gc_reg > 0 for s in expand_runs(config, preset).values()):
        spec = next(s for s in expand_runs(config, preset).values() if s.gc_reg > 0)
        print(cpu_check(spec.arch, F.DATASETS[spec.dataset][2], 8, repeats, reg=True))


def current_request(pre: dict, arch: str, dataset: str) -> tuple[int, int]:
    cfg = pre.get("resources", {}).get("pretrain", {"mem_mb": 2000, "runtime": 30})
    scale = cfg.get("scale", {})
    factor = scale.get(arch, 1.0) * scale.get(dataset, 1.0)
    return int(cfg["runtime"] * factor), int(cfg["mem_mb"] * factor)


def totals(costs: list[C.RunCost], pre: dict) -> str:
    train_h = sum(c.train_s for c in costs) / 3600
    log_h = sum(c.log_s for c in costs) / 3600
    share = sum(c.log_flops for c in costs) / sum(c.train_flops for c in costs)
    few_h = sum(c.fewshot_s for c in costs) / 3600
    asked = sum(current_request(pre, c.arch, c.dataset)[0] for c in costs) / 60
    suggested = sum(c.runtime_min for c in costs) / 60
    disk = sum(c.disk_bytes for c in costs) / 1e9
    return (
        f"{len(costs)} | {train_h:.2f} | {log_h:.2f} | {share:.1%} | {log_h / train_h:.1%} | "
        f"{few_h:.2f} | {disk:.1f} | {asked:.0f} | {suggested:.0f} |"
    )


def study_rows(config: dict, preset: str) -> None:
    pre = config["presets"][preset]
    print(f"\ntraining {json.dumps(pre['training'])}\nmetrics {json.dumps(pre['metrics'])}\n")
    print(
        "| study | runs | training GPU-h | logging GPU-h | logging share (FLOPs) | logging "
        "share (time) | few-shot GPU-h | disk (GB) | requested now (h) | suggested (h) |\n"
        "|---|---|---|---|---|---|---|---|---|---|"
    )
    for study in pre["studies"]:
        costs = [C.run_cost(s, pre) for s in study_runs(config, preset, study)]
        print(f"| {study} | {totals(costs, pre)}")
    unique = [C.run_cost(s, pre) for s in expand_runs(config, preset).values()]
    print(f"| **all (distinct runs)** | {totals(unique, pre)}")
    fig2 = C.gc_sampling_cost(config, preset, C.h100())[1] / 3600
    gpu = sum(c.gpu_hours + c.fewshot_s / 3600 for c in unique) + fig2
    worst = max(unique, key=lambda c: c.log_share)
    cpu_days = (
        C.gc_sampling_cost(config, preset, None)[0]
        + sum(C.fewshot_cost(s, pre, None)[0] for s in expand_runs(config, preset).values())
    ) / (CPU_FLOPS * 86400)
    print(
        f"\nFig. 2 job: {fig2:.2f} GPU-h. Total predicted: {gpu:.1f} H100-hours. Highest "
        f"logging share of one run: {worst.log_share:.1%} ({worst.run_id}). The Fig. 2 and "
        f"few-shot jobs on one CPU thread instead ({CPU_FLOPS / 1e9:.0f} GFLOP/s): "
        f"{cpu_days:.1f} days."
    )


def slurm_rows(config: dict, preset: str) -> None:
    pre = config["presets"][preset]
    groups: dict[tuple[str, str], list[C.RunCost]] = defaultdict(list)
    for spec in expand_runs(config, preset).values():
        groups[spec.arch, spec.dataset].append(C.run_cost(spec, pre))
    print(
        "\n| arch, dataset | runs | predicted min (range) | suggested runtime (min) | "
        "suggested mem_mb | current runtime, mem_mb |\n|---|---|---|---|---|---|"
    )
    for (arch, dataset), costs in sorted(groups.items()):
        lo, hi = (f(c.gpu_hours * 60 for c in costs) for f in (min, max))
        now = current_request(pre, arch, dataset)
        print(
            f"| {arch}, {dataset} | {len(costs)} | {math.ceil(lo)}-{math.ceil(hi)} | "
            f"{max(c.runtime_min for c in costs)} | {max(c.mem_mb for c in costs)} | "
            f"{now[0]}, {now[1]} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--metrics", type=json.loads, default={}, help="JSON over preset metrics")
    ap.add_argument("--training", type=json.loads, default={}, help="JSON over preset training")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-cpu", action="store_true", help="no CPU timing (tables only)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    config = copy.deepcopy(load_config("params.yaml"))
    pre = config["presets"][args.preset]
    pre["metrics"].update(args.metrics)
    pre["training"].update(args.training)
    pre["metrics"] = {k: v for k, v in pre["metrics"].items() if v is not None}
    model_rows(config, args.preset, args.repeats, args.skip_cpu)
    study_rows(config, args.preset)
    slurm_rows(config, args.preset)
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
