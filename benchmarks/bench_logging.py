"""Overhead of metric logging on a pretraining run of the quick preset (issue 3 target <= 15%).
Trains the Fig. 1 base run twice: with the quick preset's logging schedule, and logging only at
the start and the end. Prints the wall times and the overhead.
    python benchmarks/bench_logging.py
"""

import copy
import tempfile
import time

import torch

from gcnc.config import load_config, study_runs
from gcnc.data import load_prepared, prepare_dataset
from gcnc.training import pretrain


def main() -> None:
    torch.set_num_threads(1)
    config = load_config("params.yaml")
    preset = config["presets"]["quick"]
    spec = study_runs(config, "quick", "fig1")[0]
    with tempfile.TemporaryDirectory() as tmp:
        prepare_dataset(spec.dataset, config, f"{tmp}/data")
        data = load_prepared(f"{tmp}/data")
        times = {}
        for label, log_every in (
            ("quick schedule", preset["training"]["log_every"]),
            ("start and end only", spec.steps),
        ):
            p = copy.deepcopy(preset)
            p["training"]["log_every"] = log_every
            t = time.perf_counter()
            pretrain(spec, data, p, f"{tmp}/{log_every}", progress=False)
            times[label] = time.perf_counter() - t
            print(f"{label} (log_every={log_every}): {times[label]:.2f} s")
    base = times["start and end only"]
    print(
        f"logging overhead: {100 * (times['quick schedule'] - base) / base:.0f}% "
        f"of a run with minimal logging"
    )


if __name__ == "__main__":
    main()
