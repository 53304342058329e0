"""Pretraining: SGD with momentum, L2 (weight decay) and the explicit GC regulariser (App. A.5.6).

One call trains one grid point (:class:`gcnc.study.grid.RunSpec`) for a fixed step budget and
logs, at
every logging step, every metric of :mod:`gcnc.metrics` on fixed evaluation subsets of the train
and test splits. Minibatches and regulariser probes are drawn from generators seeded by
(seed, step), so a run is deterministic on the CPU and a run resumed from a checkpoint continues
exactly as an uninterrupted one. A non-finite loss ends the run with status ``diverged``.

Runs on the preset's device (``auto``: CUDA when available), recorded in config.json and in the
``device`` column of metrics.csv. Logging steps are read-only (eval mode, no BatchNorm update) and
a training step updates the BatchNorm statistics once, also with the GC regulariser. Only the last
``training.keep_checkpoints`` checkpoints (default 3) are kept.

Every checkpoint is bound to what made it: it carries the fingerprint (sha256,
:func:`gcnc.study.config.config_hash`) of the run's resolved settings (:func:`run_settings`: the
RunSpec, steps included; the training settings but ``checkpoint_every`` and
``keep_checkpoints``; the metrics settings; the prepared data's content hash; not the device).
A run resumes only from a checkpoint with its own fingerprint: otherwise the checkpoints are
deleted, the log says which settings changed, and training starts afresh. An unreadable
checkpoint is named in the log, deleted, and the one before it is used.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from gcnc.models import EmbedClassifier
from gcnc.study.config import config_hash
from gcnc.study.data.prepared import Prepared, Split
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.checkpoints import (
    discard_checkpoints,
    prune_checkpoints,
    resume_state,
    run_settings,
    save_atomic,
)
from gcnc.study.pretraining.evaluation import eval_subset, measure_step, seeded_generator
from gcnc.study.pretraining.schedule import learning_rate
from gcnc.study.pretraining.sgd import memory_format, model_for, resolve_device, train_loss
from gcnc.study.results.files import write_text

KEEP_CHECKPOINTS = 3  # default of training.keep_checkpoints


@dataclass
class Run:
    """What one pretraining run is: its spec and data on the device, its evaluation subsets,
    its settings and their fingerprint, and where it writes."""

    spec: RunSpec
    prepared: Prepared
    preset: dict[str, Any]
    out: Path
    device: torch.device
    layout: torch.memory_format
    x: torch.Tensor  # the training inputs, on the device
    y: torch.Tensor
    evals: dict[str, Split]
    settings: dict[str, Any]
    fingerprint: str

    @property
    def checkpoints(self) -> Path:
        return self.out / "checkpoints"

    @property
    def n_classes(self) -> int:
        return len(self.prepared.classes(self.spec.task))


@dataclass
class Progress:
    """Where a run stands: its model and optimiser, the rows logged so far, the last step
    done, the run's status, and the wall clock it started at."""

    model: EmbedClassifier
    opt: torch.optim.SGD
    start: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    class_rows: list[dict[str, Any]] = field(default_factory=list)
    status: str = "ok"
    steps_done: int = 0
    t0: float = field(default_factory=time.time)


def set_up(spec: RunSpec, prepared: Prepared, preset: dict[str, Any], out_dir: str | Path) -> Run:
    """The run's device and memory layout, training data and fixed evaluation subsets on it,
    and the settings its checkpoints are bound to."""
    device = resolve_device(preset["device"])
    train = prepared.view(spec.task, "train")
    test = prepared.view(spec.task, "test")
    layout = memory_format(spec, device, train.x)
    n = preset["training"]["eval_examples"]
    evals = {
        split: Split(sub.x.to(device).contiguous(memory_format=layout), sub.y.to(device))
        for split, sub in (("train", eval_subset(train, n)), ("test", eval_subset(test, n)))
    }
    settings = run_settings(spec, preset, prepared)
    x = train.x.to(device).contiguous(memory_format=layout)
    out = Path(out_dir)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    return Run(spec, prepared, preset, out, device, layout, x, train.y.to(device), evals,
               settings, config_hash(settings))  # fmt: skip


def fresh(run: Run) -> Progress:
    """A new model (seeded by the run's seed) and its SGD optimiser, nothing logged."""
    torch.manual_seed(run.spec.seed)
    net = model_for(run.spec, run.prepared).to(run.device, memory_format=run.layout)
    sgd = torch.optim.SGD(
        net.parameters(),
        lr=run.spec.lr,
        momentum=run.preset["training"]["momentum"],
        weight_decay=run.spec.weight_decay,
    )
    return Progress(net, sgd)


def resume(run: Run) -> Progress:
    """The run's progress from its last checkpoint with its own fingerprint, else fresh."""
    progress = fresh(run)
    state = resume_state(run.checkpoints, run.settings, run.spec.run_id)
    if state is None:
        return progress
    try:  # copied to the device
        progress.model.load_state_dict(state["model"])
        progress.opt.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as err:
        print(f"{run.spec.run_id}: checkpoint does not fit the model ({err}); fresh", flush=True)
        discard_checkpoints(run.checkpoints)
        return fresh(run)
    progress.rows, progress.class_rows = state["rows"], state["class_rows"]
    progress.start = state["step"]
    print(f"resuming {run.spec.run_id} from checkpoint step {progress.start}", flush=True)
    return progress


def log_metrics(run: Run, progress: Progress, step: int) -> None:
    """Append the logging step's rows (:func:`gcnc.study.pretraining.evaluation.measure_step`),
    stamped with the
    wall time since the run started and the device."""
    rows, class_rows = measure_step(
        progress.model, run.spec, step, run.evals, run.n_classes, run.preset["metrics"], run.x
    )
    stamp = {"wall_time": time.time() - progress.t0, "device": str(run.device)}
    progress.rows.extend(row | stamp for row in rows)
    progress.class_rows.extend(class_rows)


def save_checkpoint(run: Run, progress: Progress, step: int) -> None:
    save_atomic(
        {
            "step": step,
            "model": progress.model.state_dict(),
            "optimizer": progress.opt.state_dict(),
            "rows": progress.rows,
            "class_rows": progress.class_rows,
            "fingerprint": run.fingerprint,
            "settings": run.settings,
        },
        run.checkpoints / f"step_{step:08d}.pt",
    )
    keep = run.preset["training"].get("keep_checkpoints", KEEP_CHECKPOINTS)
    prune_checkpoints(run.checkpoints, keep)


def sgd_step(run: Run, progress: Progress, step: int) -> torch.Tensor | None:
    """One SGD step on the minibatch drawn for (seed, step); the loss, or None when the
    objective is not finite (the run has diverged)."""
    spec, model = run.spec, progress.model
    model.train()
    n, bs = run.x.shape[0], min(spec.batch_size, run.x.shape[0])
    idx = torch.randperm(n, generator=seeded_generator(spec.seed, step))[:bs].to(run.device)
    probes = run.preset["metrics"]["gc_reg_probes"]
    loss, total = train_loss(
        model, run.x[idx], run.y[idx], spec.gc_reg, probes, seeded_generator(spec.seed, step, 2)
    )
    if not torch.isfinite(total):
        return None
    progress.opt.zero_grad(set_to_none=True)
    total.backward()
    for group in progress.opt.param_groups:
        group["lr"] = learning_rate(spec.lr, step, spec.steps, spec.lr_schedule)
    progress.opt.step()
    return loss


def train_steps(run: Run, progress: Progress, show: bool) -> None:
    """The SGD loop from the step after ``progress.start`` to the budget: logs metrics every
    logging interval and at the end, checkpoints every ``checkpoint_every`` steps and at the
    end; a non-finite loss ends the run as ``diverged`` at that step."""
    spec, train_cfg = run.spec, run.preset["training"]
    bar = tqdm(
        range(progress.start + 1, spec.steps + 1),
        desc=spec.run_id,
        disable=not show or not sys.stderr.isatty(),  # a log file gets lines (below)
        mininterval=2.0,
        initial=progress.start,
        total=spec.steps,
    )
    progress.steps_done, log_every = spec.steps, spec.log_interval(train_cfg)
    for step in bar:
        loss = sgd_step(run, progress, step)
        if loss is None:
            progress.status, progress.steps_done = "diverged", step
            print(f"{spec.run_id}: non-finite loss at step {step}; diverged", flush=True)
            break
        if step % log_every == 0 or step == spec.steps:
            log_metrics(run, progress, step)
            accuracy = progress.rows[-2]["accuracy"]
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{accuracy:.3f}")
            if show and bar.disable:  # not a terminal: one plain line per logged step
                print(
                    f"step {step}/{spec.steps} ({100 * step // spec.steps}%): loss "
                    f"{loss.item():.3f}, train accuracy {accuracy:.3f}, "
                    f"{time.time() - progress.t0:.0f} s",
                    flush=True,
                )
        if step % train_cfg["checkpoint_every"] == 0 or step == spec.steps:
            save_checkpoint(run, progress, step)
    bar.close()


def write_outputs(run: Run, progress: Progress) -> dict[str, Any]:
    """metrics.csv, class_metrics.csv, config.json, final.pt and summary.json, each atomically;
    returns the summary."""
    spec, out = run.spec, run.out
    table = pd.DataFrame(progress.rows)
    for key, value in spec.to_dict().items():
        if key != "model":
            table[key] = value
    table["run_id"] = spec.run_id
    write_text(out / "metrics.csv", table.to_csv(index=False))
    classes = pd.DataFrame(progress.class_rows).assign(run_id=spec.run_id)
    write_text(out / "class_metrics.csv", classes.to_csv(index=False))
    config = {
        "run": spec.to_dict(),
        "run_id": spec.run_id,
        "training": run.preset["training"],
        "metrics": run.preset["metrics"],
        "device": str(run.device),
        "dataset_meta": {k: run.prepared.meta[k] for k in ("name", "kind", "n_classes")},
        "data_fingerprint": run.settings["data"],
        "fingerprint": run.fingerprint,
    }
    write_text(out / "config.json", json.dumps(config, indent=2, sort_keys=True))
    save_atomic(progress.model.state_dict(), out / "final.pt")
    summary = {
        "run_id": spec.run_id,
        "status": progress.status,
        "steps_done": int(progress.steps_done),
        "final_test_accuracy": float(table[table.split == "test"].accuracy.iloc[-1]),
    }
    write_text(out / "summary.json", json.dumps(summary, indent=2))
    return summary


def pretrain(
    spec: RunSpec,
    prepared: Prepared,
    preset: dict[str, Any],
    out_dir: str | Path,
    *,
    progress: bool = True,
) -> dict[str, Any]:
    """Train one run into ``out_dir``; returns the run summary (also written to summary.json).

    Writes ``metrics.csv`` (one row per logging step and split), ``class_metrics.csv`` (per-class
    GC and variance), ``config.json`` (exact run config and its fingerprint), ``final.pt`` (state
    dict), each atomically, and keeps the last ``keep_checkpoints`` of ``checkpoints/step_*.pt``
    (model + optimizer state dicts, logged rows, fingerprint) for resumption.
    ``steps_done`` in the summary is ``steps``, or for a diverged run the step whose loss was
    non-finite.
    """
    run = set_up(spec, prepared, preset, out_dir)
    state = resume(run)
    if state.start == 0 and not state.rows:
        log_metrics(run, state, 0)
    train_steps(run, state, progress)
    return write_outputs(run, state)
