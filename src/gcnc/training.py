"""Pretraining: SGD with momentum, L2 (weight decay) and the explicit GC regulariser (App. A.5.6).

One call trains one grid point (:class:`gcnc.config.RunSpec`) for a fixed step budget and logs, at
every logging step, every metric of :mod:`gcnc.metrics` on fixed evaluation subsets of the train
and test splits. Minibatches and regulariser probes are drawn from generators seeded by
(seed, step), so a run is deterministic on the CPU and a run resumed from a checkpoint continues
exactly as an uninterrupted one. A non-finite loss ends the run with status ``diverged``.

Runs on the preset's device (``auto``: CUDA when available), recorded in config.json and in the
``device`` column of metrics.csv. Logging steps are read-only (eval mode, no BatchNorm update) and
a training step updates the BatchNorm statistics once, also with the GC regulariser. Only the last
``training.keep_checkpoints`` checkpoints (default 3) are kept.

Every checkpoint is bound to what made it: it carries the fingerprint (sha256,
:func:`gcnc.config.config_hash`) of the run's resolved settings (:func:`run_settings`: the
RunSpec, steps included; the training settings but ``checkpoint_every`` and
``keep_checkpoints``; the metrics settings; the prepared data's content hash; not the device).
A run resumes only from a checkpoint with its own fingerprint: otherwise the checkpoints are
deleted, the log says which settings changed, and training starts afresh. An unreadable
checkpoint is named in the log, deleted, and the one before it is used.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from gcnc.checkpoints import (
    discard_checkpoints,
    load_weights,
    prune_checkpoints,
    resume_state,
    run_settings,
    save_atomic,
)
from gcnc.config import RunSpec, config_hash
from gcnc.data.prepared import Prepared, Split
from gcnc.files import write_text as write_atomic
from gcnc.metrics.gc import embed_with_gc_penalty
from gcnc.metrics.slope import path_slope
from gcnc.metrics.snapshot import snapshot
from gcnc.models import EmbedClassifier, build_model

EVAL_SEED = 12345  # the evaluation subsets are the same for every run of a dataset
KEEP_CHECKPOINTS = 3  # default of training.keep_checkpoints


def resolve_device(name: str) -> torch.device:
    """The torch device of a preset's ``device`` (``auto``: CUDA when available, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return torch.device(name)


def _generator(*key: int) -> torch.Generator:
    seed = 0
    for k in key:
        seed = (seed * 1_000_003 + int(k)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


def gc_estimator(metric_cfg: dict[str, Any], *, endpoint: bool) -> str:
    """The GC estimator of a logging step: ``endpoint_gc_estimator`` (if set) at the last step,
    the values the final-point analyses read; ``gc_estimator`` at every other step (the first
    included: nothing reads initial GC on its own)."""
    if endpoint:
        return metric_cfg.get("endpoint_gc_estimator", metric_cfg["gc_estimator"])
    return metric_cfg["gc_estimator"]


def eval_subset(split: Split, n: int, balanced: bool = True) -> Split:
    """A fixed evaluation subset of about n examples (same for every run).

    Balanced: each class contributes the first max(1, n // k) of its examples in one fixed
    permutation of the split (all of them if it has fewer), so that NC and the per-class GC
    weigh the classes equally, as the balanced distribution of Prop. 4.1 (choose n >= 2k so
    that every class has a variance). Otherwise the first n examples of that permutation.
    """
    perm = torch.randperm(split.x.shape[0], generator=_generator(EVAL_SEED))
    if not balanced:
        return Split(split.x[perm[:n]], split.y[perm[:n]])
    labels = split.y[perm]
    classes = torch.unique(labels)
    per_class = max(1, n // len(classes))
    keep = torch.cat([perm[labels == c][:per_class] for c in classes])
    idx = keep[torch.argsort(torch.argsort(perm)[keep])]  # in permutation order, classes mixed
    return Split(split.x[idx], split.y[idx])


def memory_format(spec: RunSpec, device: torch.device, x: torch.Tensor) -> torch.memory_format:
    """channels_last for image runs on a CPU without the GC penalty: 1.3-1.5x faster training
    and exact GC there (BENCHMARKS.md), but 1.1-1.2x slower with the penalty's double backward;
    unmeasured on GPUs, so left alone there. A step agrees with the default layout to float
    rounding (over a run SGD amplifies the rounding, as with any change of summation order); a
    run always uses the same layout, so it stays deterministic and resumable."""
    image, cpu = x.dim() == 4, device.type == "cpu"
    return torch.channels_last if image and cpu and spec.gc_reg <= 0 else torch.contiguous_format


def model_for(spec: RunSpec, prepared: Prepared) -> EmbedClassifier:
    n_classes = len(prepared.classes(spec.task))
    return build_model(spec.arch, prepared.input_shape, n_classes, **spec.model)


def load_pretrained(
    spec: RunSpec, prepared: Prepared, weights: str | Path, device: str
) -> EmbedClassifier:
    """A run's trained model (its ``final.pt``) on the preset's ``device`` (``auto``: CUDA when
    present); prints the device chosen, for the job's log."""
    torch_device = resolve_device(device)
    model = model_for(spec, prepared).to(torch_device)
    model.load_state_dict(load_weights(weights))
    print(f"device: {torch_device}", flush=True)
    return model


STEP_DECAY = ((0.5, 0.1), (0.75, 0.01))  # step schedule: (fraction of steps done, factor)


def learning_rate(base: float, step: int, steps: int, schedule: str = "constant") -> float:
    """Learning rate of SGD step ``step`` (1..steps), a function of the step alone so that a
    resumed run continues the same schedule:

    - ``constant``: ``base`` throughout (plain SGD, as the implicit-regularisation argument of
      Sec. 4 assumes: its strength grows with the step size);
    - ``step``: ``base``, then ``base / 10`` after half the steps and ``base / 100`` after three
      quarters (the classic VGG/ResNet schedule);
    - ``cosine``: annealed from ``base`` at step 1 towards 0,
      ``base * (1 + cos(pi * (step - 1) / steps)) / 2``.
    """
    if schedule == "constant":
        return base
    if schedule == "step":
        factor = 1.0
        for fraction, decay in STEP_DECAY:
            if step > fraction * steps:
                factor = decay
        return base * factor
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))
    raise ValueError(f"unknown lr_schedule '{schedule}'; choose constant, step or cosine")


def train_loss(
    model: EmbedClassifier,
    xb: torch.Tensor,
    yb: torch.Tensor,
    gc_reg: float,
    n_probes: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy on the minibatch and the training objective CE + gc_reg * <f, B>_G
    (App. A.5.6), from one forward pass in the model's current mode."""
    if gc_reg <= 0:
        loss = nn.functional.cross_entropy(model(xb), yb)
        return loss, loss
    feats, penalty = embed_with_gc_penalty(model.embed, xb, n_probes, generator)
    loss = nn.functional.cross_entropy(model.head(feats), yb)
    return loss, loss + gc_reg * penalty


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
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    train_cfg, metric_cfg = preset["training"], preset["metrics"]
    device = resolve_device(preset["device"])
    dev = str(device)  # recorded in config.json and every metrics row
    train = prepared.view(spec.task, "train")
    test = prepared.view(spec.task, "test")
    n_classes = len(prepared.classes(spec.task))
    layout = memory_format(spec, device, train.x)
    evals = {
        split: Split(sub.x.to(device).contiguous(memory_format=layout), sub.y.to(device))
        for split, sub in (
            ("train", eval_subset(train, train_cfg["eval_examples"])),
            ("test", eval_subset(test, train_cfg["eval_examples"])),
        )
    }

    settings = run_settings(spec, preset, prepared)
    fp = config_hash(settings)

    def fresh() -> tuple[EmbedClassifier, torch.optim.SGD]:
        torch.manual_seed(spec.seed)
        net = model_for(spec, prepared).to(device, memory_format=layout)
        sgd = torch.optim.SGD(
            net.parameters(),
            lr=spec.lr,
            momentum=train_cfg["momentum"],
            weight_decay=spec.weight_decay,
        )
        return net, sgd

    model, opt = fresh()
    rows: list[dict[str, Any]] = []
    class_rows: list[dict[str, Any]] = []
    start, status, t0 = 0, "ok", time.time()
    state = resume_state(ckpt_dir, settings, spec.run_id)
    if state is not None:
        try:  # copied to the device
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            rows, class_rows, start = state["rows"], state["class_rows"], state["step"]
            print(f"resuming {spec.run_id} from checkpoint step {start}", flush=True)
        except (RuntimeError, ValueError, KeyError) as err:
            print(f"{spec.run_id}: checkpoint does not fit the model ({err}); fresh", flush=True)
            discard_checkpoints(ckpt_dir)
            model, opt = fresh()

    def log(step: int) -> None:
        means = None
        estimator = gc_estimator(metric_cfg, endpoint=step == spec.steps)
        for split in ("train", "test"):
            ev = evals[split]
            started = time.perf_counter()
            row, crows, split_means = snapshot(
                model,
                ev.x,
                ev.y,
                n_classes,
                estimator=estimator,
                n_probes=metric_cfg["gc_probes"],
                generator=_generator(spec.seed, step, 1),
                ncm_means=means,
            )
            means = split_means if split == "train" else means
            row["slope"] = (
                path_slope(model, ev.x[:256], ev.y[:256])
                if split == "train"
                else float("nan")
            )
            row["log_seconds"] = time.perf_counter() - started  # what this measurement cost
            # the rate of the last SGD step taken (the first step's at step 0)
            row["step_lr"] = learning_rate(spec.lr, max(step, 1), spec.steps, spec.lr_schedule)
            wall = time.time() - t0
            rows.append({"step": step, "split": split, **row, "wall_time": wall, "device": dev})
            class_rows.extend({"step": step, "split": split, **c} for c in crows)

    if start == 0 and not rows:
        log(0)
    x_all, y_all = train.x.to(device).contiguous(memory_format=layout), train.y.to(device)
    n, bs = x_all.shape[0], min(spec.batch_size, train.x.shape[0])
    bar = tqdm(
        range(start + 1, spec.steps + 1),
        desc=spec.run_id,
        disable=not progress or not sys.stderr.isatty(),  # a log file gets lines (below)
        mininterval=2.0,
        initial=start,
        total=spec.steps,
    )
    steps_done, log_every = spec.steps, spec.log_interval(train_cfg)
    for step in bar:
        model.train()
        idx = torch.randperm(n, generator=_generator(spec.seed, step))[:bs].to(device)
        xb, yb = x_all[idx], y_all[idx]
        loss, total = train_loss(
            model, xb, yb, spec.gc_reg, metric_cfg["gc_reg_probes"], _generator(spec.seed, step, 2)
        )
        if not torch.isfinite(total):
            status, steps_done = "diverged", step  # the step whose loss was non-finite
            print(f"{spec.run_id}: non-finite loss at step {step}; diverged", flush=True)
            break
        opt.zero_grad(set_to_none=True)
        total.backward()
        for group in opt.param_groups:
            group["lr"] = learning_rate(spec.lr, step, spec.steps, spec.lr_schedule)
        opt.step()
        if step % log_every == 0 or step == spec.steps:
            log(step)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{rows[-2]['accuracy']:.3f}")
            if progress and bar.disable:  # not a terminal: one plain line per logged step
                print(
                    f"step {step}/{spec.steps} ({100 * step // spec.steps}%): loss "
                    f"{loss.item():.3f}, train accuracy {rows[-2]['accuracy']:.3f}, "
                    f"{time.time() - t0:.0f} s",
                    flush=True,
                )
        if step % train_cfg["checkpoint_every"] == 0 or step == spec.steps:
            save_atomic(
                {
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "rows": rows,
                    "class_rows": class_rows,
                    "fingerprint": fp,
                    "settings": settings,
                },
                ckpt_dir / f"step_{step:08d}.pt",
            )
            prune_checkpoints(ckpt_dir, train_cfg.get("keep_checkpoints", KEEP_CHECKPOINTS))
    bar.close()

    table = pd.DataFrame(rows)
    for key, value in spec.to_dict().items():
        if key != "model":
            table[key] = value
    table["run_id"] = spec.run_id
    write_atomic(out / "metrics.csv", table.to_csv(index=False))
    classes = pd.DataFrame(class_rows).assign(run_id=spec.run_id)
    write_atomic(out / "class_metrics.csv", classes.to_csv(index=False))
    config = {
        "run": spec.to_dict(),
        "run_id": spec.run_id,
        "training": train_cfg,
        "metrics": metric_cfg,
        "device": dev,
        "dataset_meta": {k: prepared.meta[k] for k in ("name", "kind", "n_classes")},
        "data_fingerprint": settings["data"],
        "fingerprint": fp,
    }
    write_atomic(out / "config.json", json.dumps(config, indent=2, sort_keys=True))
    save_atomic(model.state_dict(), out / "final.pt")
    summary = {
        "run_id": spec.run_id,
        "status": status,
        "steps_done": int(steps_done),
        "final_test_accuracy": float(table[table.split == "test"].accuracy.iloc[-1]),
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    return summary
