"""Overhead of metric logging on a pretraining run of the quick preset (issue 3 target <= 15%).

Trains the Fig. 1 base run with the quick preset's logging schedule and with logging only at the
first and last step (which every run does), best of ``--repeats``, one thread, and prints both the
in-process training time (model, loop, snapshots, checkpoints, tables) and the wall time of the
whole run as a fresh process (interpreter start, imports, data loading: what one pretraining job
costs; Snakemake adds its own start-up on top, which this leaves out). On a noisy machine the
A/B difference drifts by more than the effect, so it also prints the share timed inside each
quick-schedule run: the ``log_seconds`` of the intermediate logging steps against the rest.
    python benchmarks/bench_logging.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time

import pandas as pd
import torch

from gcnc.study.config import load_config
from gcnc.study.data import load_prepared, prepare_dataset
from gcnc.study.grid import study_runs
from gcnc.study.pretraining.pretrain import pretrain

CHILD = """
import json, sys, torch
from gcnc.study.grid import RunSpec
from gcnc.study.data import load_prepared
from gcnc.study.pretraining.pretrain import pretrain
torch.set_num_threads(1)
spec, preset, data_dir, out = json.loads(sys.argv[1])
pretrain(RunSpec(**spec), load_prepared(data_dir), preset, out, progress=False)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    config = load_config("params.yaml")
    preset = config["presets"]["quick"]
    spec = study_runs(config, "quick", "fig1")[0]
    schedules = {
        "quick schedule": preset["training"]["log_every"],
        "first and last step only": spec.steps,
    }
    print(f"run {spec.run_id}: {spec.steps} steps, metrics {preset['metrics']}")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = f"{tmp}/data/{spec.dataset}"
        prepare_dataset(spec.dataset, config, data_dir)
        data = load_prepared(data_dir)
        runs: dict[tuple[str, str], list[float]] = {}
        for r in range(args.repeats):  # arms interleaved, so drift on the machine hits both
            for label, log_every in schedules.items():
                p = copy.deepcopy(preset)
                p["training"]["log_every"] = log_every
                t = time.perf_counter()
                pretrain(spec, data, p, f"{tmp}/in_{log_every}_{r}", progress=False)
                runs.setdefault((label, "in-process"), []).append(time.perf_counter() - t)
                job = json.dumps([spec.to_dict(), p, data_dir, f"{tmp}/proc_{log_every}_{r}"])
                t = time.perf_counter()
                subprocess.run([sys.executable, "-c", CHILD, job], check=True)
                runs.setdefault((label, "process"), []).append(time.perf_counter() - t)
        times = {key: min(values) for key, values in runs.items()}
        for label, log_every in schedules.items():
            print(
                f"{label} (log_every={log_every}): in-process {times[label, 'in-process']:.2f} s, "
                f"whole process {times[label, 'process']:.2f} s (best of {args.repeats})"
            )
            shares = []
            log_every = schedules["quick schedule"]
            for r, total in enumerate(runs["quick schedule", "in-process"]):
                table = pd.read_csv(f"{tmp}/in_{log_every}_{r}/metrics.csv")
                extra = table[~table.step.isin([0, spec.steps])].log_seconds.sum()
                shares.append(extra / (total - extra))
    for kind in ("in-process", "process"):
        base = times["first and last step only", kind]
        extra = times["quick schedule", kind] - base
        print(f"logging overhead, A/B ({kind}): {100 * extra / base:.1f}% (+{extra:.2f} s)")
    print(
        "logging overhead, timed inside the quick-schedule runs (intermediate logging steps / the "
        f"rest of the run): median {100 * statistics.median(shares):.1f}%, "
        f"range {100 * min(shares):.1f}-{100 * max(shares):.1f}%"
    )


if __name__ == "__main__":
    main()
