"""Pretraining: SGD with momentum, L2 (weight decay) and the explicit GC regulariser (App. A.5.6).

One call trains one grid point (:class:`gcnc.config.RunSpec`) for a fixed step budget and logs, at
every logging step, every metric of :mod:`gcnc.metrics` on fixed evaluation subsets of the train
and test splits. Minibatches and regulariser probes are drawn from generators seeded by
(seed, step), so a run is deterministic on the CPU and a run resumed from a checkpoint continues
exactly as an uninterrupted one. A non-finite loss ends the run with status ``diverged``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from gcnc.config import RunSpec
from gcnc.data.prepared import Prepared, Split
from gcnc.metrics.gc import gc_penalty
from gcnc.metrics.slope import path_slope
from gcnc.metrics.snapshot import snapshot
from gcnc.models import EmbedClassifier, build_model

EVAL_SEED = 12345  # the evaluation subsets are the same for every run of a dataset


def resolve_device(name: str) -> torch.device:
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
    """The GC estimator of a logging step: ``endpoint_gc_estimator`` (if set) at the first and
    last step, the values the final-point analyses read; ``gc_estimator`` at every other step."""
    if endpoint:
        return metric_cfg.get("endpoint_gc_estimator", metric_cfg["gc_estimator"])
    return metric_cfg["gc_estimator"]


def eval_subset(split: Split, n: int) -> Split:
    """The first n examples of a fixed permutation of the split (same for every run)."""
    idx = torch.randperm(split.x.shape[0], generator=_generator(EVAL_SEED))[:n]
    return Split(split.x[idx], split.y[idx])


def model_for(spec: RunSpec, prepared: Prepared) -> EmbedClassifier:
    n_classes = len(prepared.classes(spec.task))
    return build_model(spec.arch, prepared.input_shape, n_classes, **spec.model)


def _save_atomic(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _latest_checkpoint(ckpt_dir: Path) -> Path | None:
    found = sorted(ckpt_dir.glob("step_*.pt"))
    return found[-1] if found else None


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
    GC and variance), ``config.json`` (exact run config), ``final.pt`` (state dict) and keeps
    ``checkpoints/step_*.pt`` (model + optimizer state dicts, logged rows) for resumption.
    """
    out = Path(out_dir)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    train_cfg, metric_cfg = preset["training"], preset["metrics"]
    device = resolve_device(preset["device"])
    train = prepared.view(spec.task, "train")
    test = prepared.view(spec.task, "test")
    n_classes = len(prepared.classes(spec.task))
    evals = {
        "train": eval_subset(train, train_cfg["eval_examples"]),
        "test": eval_subset(test, train_cfg["eval_examples"]),
    }

    torch.manual_seed(spec.seed)
    model = model_for(spec, prepared).to(device)
    opt = torch.optim.SGD(
        model.parameters(),
        lr=spec.lr,
        momentum=train_cfg["momentum"],
        weight_decay=spec.weight_decay,
    )
    rows: list[dict[str, Any]] = []
    class_rows: list[dict[str, Any]] = []
    start, status, t0 = 0, "ok", time.time()
    latest = _latest_checkpoint(ckpt_dir)
    if latest is not None:
        state = torch.load(latest, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rows, class_rows, start = state["rows"], state["class_rows"], state["step"]
        print(f"resuming {spec.run_id} from checkpoint {latest.name} (step {start})", flush=True)

    def log(step: int) -> None:
        means = None
        estimator = gc_estimator(metric_cfg, endpoint=step in (0, spec.steps))
        for split in ("train", "test"):
            ev = evals[split]
            started = time.perf_counter()
            row, crows, split_means = snapshot(
                model,
                ev.x.to(device),
                ev.y.to(device),
                n_classes,
                estimator=estimator,
                n_probes=metric_cfg["gc_probes"],
                generator=_generator(spec.seed, step, 1),
                ncm_means=means,
            )
            means = split_means if split == "train" else means
            row["slope"] = (
                path_slope(model, ev.x[:256].to(device), ev.y[:256].to(device))
                if split == "train"
                else float("nan")
            )
            row["log_seconds"] = time.perf_counter() - started  # what this measurement cost
            rows.append({"step": step, "split": split, **row, "wall_time": time.time() - t0})
            class_rows.extend({"step": step, "split": split, **c} for c in crows)

    if start == 0 and not rows:
        log(0)
    x_all, y_all = train.x.to(device), train.y.to(device)
    n, bs = x_all.shape[0], min(spec.batch_size, train.x.shape[0])
    bar = tqdm(
        range(start + 1, spec.steps + 1),
        desc=spec.run_id,
        disable=not progress,
        mininterval=2.0,
        initial=start,
        total=spec.steps,
    )
    for step in bar:
        model.train()
        idx = torch.randperm(n, generator=_generator(spec.seed, step))[:bs].to(device)
        xb, yb = x_all[idx], y_all[idx]
        loss = nn.functional.cross_entropy(model(xb), yb)
        total = loss
        if spec.gc_reg > 0:
            total = loss + spec.gc_reg * gc_penalty(
                model.embed, xb, metric_cfg["gc_reg_probes"], _generator(spec.seed, step, 2)
            )
        if not torch.isfinite(total):
            status = "diverged"
            break
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        if step % train_cfg["log_every"] == 0 or step == spec.steps:
            log(step)
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{rows[-2]['accuracy']:.3f}")
        if step % train_cfg["checkpoint_every"] == 0 or step == spec.steps:
            _save_atomic(
                {
                    "step": step,
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "rows": rows,
                    "class_rows": class_rows,
                },
                ckpt_dir / f"step_{step:08d}.pt",
            )
    bar.close()

    table = pd.DataFrame(rows)
    for key, value in spec.to_dict().items():
        if key != "model":
            table[key] = value
    table["run_id"] = spec.run_id
    table.to_csv(out / "metrics.csv", index=False)
    pd.DataFrame(class_rows).assign(run_id=spec.run_id).to_csv(
        out / "class_metrics.csv", index=False
    )
    (out / "config.json").write_text(
        json.dumps(
            {
                "run": spec.to_dict(),
                "run_id": spec.run_id,
                "training": train_cfg,
                "metrics": metric_cfg,
                "device": str(device),
                "dataset_meta": {k: prepared.meta[k] for k in ("name", "kind", "n_classes")},
            },
            indent=2,
            sort_keys=True,
        )
    )
    torch.save(model.state_dict(), out / "final.pt")
    summary = {
        "run_id": spec.run_id,
        "status": status,
        "steps_done": int(rows[-1]["step"]),
        "final_test_accuracy": float(table[table.split == "test"].accuracy.iloc[-1]),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
