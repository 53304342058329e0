"""Few-shot transfer on unseen target classes (paper Section 5, Prop. 5.1, Fig. 4).

Episodes (N-way K-shot, Q queries per class) are sampled once per dataset from the target-class
pool and shared by every pretrained model, so comparisons between models are paired. Query
examples never appear in the support set of their episode. Target features are computed once per
model; every episode is then evaluated in one batch: nearest-class-mean (NCM) and multinomial
logistic regression (a linear probe, fitted for all episodes at once with L-BFGS; the episodes'
losses are separable, so the joint fit equals the individual fits). With ``finetune_steps > 0``
the embedding is also fine-tuned on each episode's support set (slower, per episode).
Everything runs on the model's device; episode indices and the target pool are moved there.
"""

from __future__ import annotations

import copy
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from gcnc.metrics.collapse import geometric_collapse, neural_collapse, pairwise_sq_distances
from gcnc.metrics.gc import gc_terms
from gcnc.metrics.snapshot import embed_and_logits, model_device
from gcnc.study.data.prepared import Prepared, Split
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.evaluation import eval_subset, gc_estimator
from gcnc.study.results.files import write_bytes

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def sample_episodes(labels: np.ndarray, cfg: dict[str, Any]) -> dict[str, np.ndarray]:
    """Indices into the target pool for every (way, shot): classes, support and query sets.

    Deterministic for ``cfg['seed']``; within a class, support and query are drawn without
    replacement from one permutation, so they are disjoint.
    """
    rng = np.random.default_rng(cfg["seed"])
    classes = np.unique(labels)
    by_class = {c: np.flatnonzero(labels == c) for c in classes}
    out: dict[str, np.ndarray] = {}
    for way in cfg["ways"]:
        for shot in cfg["shots"]:
            need = shot + cfg["queries"]
            short = [int(c) for c in classes if len(by_class[c]) < need]
            if len(classes) < way or short:
                raise ValueError(
                    f"{way}-way {shot}-shot with {cfg['queries']} queries needs {way} "
                    f"classes of >= {need} examples; classes short: {short}"
                )
            e = cfg["episodes"]
            cls = np.stack([rng.choice(classes, way, replace=False) for _ in range(e)])
            picks = np.stack(
                [
                    np.stack([rng.choice(by_class[c], need, replace=False) for c in row])
                    for row in cls
                ]
            )
            out[f"w{way}_s{shot}_classes"] = cls
            out[f"w{way}_s{shot}_support"] = picks[:, :, :shot]
            out[f"w{way}_s{shot}_query"] = picks[:, :, shot:]
    return out


def save_episodes(path: str | Path, episodes: dict[str, np.ndarray]) -> None:
    """Write the episodes as one .npz, atomically (:func:`gcnc.study.results.files.write_bytes`)."""
    buffer = io.BytesIO()
    np.savez(buffer, **episodes)
    write_bytes(path, buffer.getbuffer())


def load_episodes(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def ncm_episodes(support: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Accuracy per episode of the nearest-class-mean classifier.

    ``support``: (E, N, K, p) features; ``query``: (E, N, Q, p). Returns (E,) accuracies. Means
    and squared distances in float64, from the differences (:func:`pairwise_sq_distances`: no
    Gram-matrix cancellation between features far from the origin relative to their spread).
    """
    means = support.double().mean(2)  # E x N x p
    e, n, q, p = query.shape
    d = pairwise_sq_distances(query.reshape(e, n * q, p), means)  # E x NQ x N
    truth = torch.arange(n, device=query.device).repeat_interleave(q)
    return (d.argmin(2) == truth).double().mean(1)


def logreg_episodes(
    support: torch.Tensor, query: torch.Tensor, l2: float = 1e-2, iters: int = 100
) -> torch.Tensor:
    """Accuracy per episode of L2-regularised multinomial logistic regression (joint L-BFGS fit)."""
    e, n, k, p = support.shape
    xs = support.reshape(e, n * k, p).double()
    ys = torch.arange(n, device=xs.device).repeat_interleave(k)
    w = xs.new_zeros(e, p, n).requires_grad_(True)
    b = xs.new_zeros(e, 1, n).requires_grad_(True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        logits = xs @ w + b
        loss = nn.functional.cross_entropy(logits.reshape(-1, n), ys.repeat(e), reduction="sum") / (
            n * k
        )
        loss = loss + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    q = query.shape[2]
    with torch.no_grad():
        logits = query.reshape(e, n * q, p).double() @ w + b
    truth = torch.arange(n, device=xs.device).repeat_interleave(q)
    return (logits.argmax(2) == truth).double().mean(1)


def finetune_episodes(
    model: nn.Module, x: torch.Tensor, support: np.ndarray, query: np.ndarray, steps: int, lr: float
) -> torch.Tensor:
    """Accuracy per episode after fine-tuning the whole network (new head) on the support set.

    Runs on the model's device; ``x`` (the target pool) may stay on the CPU, only each episode's
    examples are moved.
    """
    accs = []
    n, k = support.shape[1], support.shape[2]
    device = model_device(model)
    for s_idx, q_idx in zip(support, query, strict=True):
        net = copy.deepcopy(model)
        net.head = nn.Linear(net.embed_dim, n).to(device)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
        xs = x[torch.from_numpy(s_idx.reshape(-1))].to(device)
        ys = torch.arange(n, device=device).repeat_interleave(k)
        net.train()
        for _ in range(steps):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xs), ys).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            pred = net(x[torch.from_numpy(q_idx.reshape(-1))].to(device)).argmax(1)
        truth = torch.arange(n, device=device).repeat_interleave(q_idx.shape[1])
        accs.append((pred == truth).double().mean())
    return torch.stack(accs)


def mean_ci(acc: torch.Tensor) -> tuple[float, float]:
    """Mean accuracy and the half-width of its 95% normal confidence interval over episodes."""
    a = acc.double()
    half = (
        Z95 * float(a.std(unbiased=True)) / math.sqrt(a.numel()) if a.numel() > 1 else float("nan")
    )
    return float(a.mean()), half


def source_columns(
    spec: RunSpec, data: Prepared, source_metrics_csv: str | Path, status: str
) -> dict[str, Any]:
    """The run's settings and status and its source metrics at its last logged step."""
    src = pd.read_csv(source_metrics_csv)
    src_final = src[(src.split == "train") & (src.step == src.step.max())].iloc[0]
    return {
        "run_id": spec.run_id,
        **{k: v for k, v in spec.to_dict().items() if k != "model"},
        "status": status,
        "source_gc": src_final.gc,
        "source_nc": src_final.nc,
        "source_geometric_collapse": src_final.geometric_collapse,
        "source_cdnv_max": src_final.cdnv_max,
        "source_classes": len(data.classes("source")),
    }


def target_columns(
    model: nn.Module, sub: Split, metric_cfg: dict[str, Any]
) -> dict[str, float]:
    """GC (the endpoint estimator), NC and geometric collapse of the target classes' subset."""
    device = model_device(model)
    sub_y = sub.y.to(device)
    sub_gc, sub_feats = gc_terms(
        model.embed,
        sub.x.to(device),
        gc_estimator(metric_cfg, endpoint=True),
        n_probes=metric_cfg["gc_probes"],
    )
    target_gc = float(sub_gc.mean())
    return {
        "target_gc": target_gc,
        "target_nc": neural_collapse(sub_feats, sub_y),
        "target_geometric_collapse": geometric_collapse(target_gc, sub_feats, sub_y),
    }


def episode_accuracies(
    model: nn.Module, pool: Split, feats: torch.Tensor, support_idx: np.ndarray,
    query_idx: np.ndarray, classifiers: list[str], cfg: dict[str, Any], lr: float,
) -> dict[str, torch.Tensor]:  # fmt: skip
    """Per classifier, the accuracy of every episode of one (way, shot)."""
    device = feats.device
    support = feats[torch.from_numpy(support_idx).to(device)]
    query = feats[torch.from_numpy(query_idx).to(device)]
    accs = {}
    if "ncm" in classifiers:
        accs["ncm"] = ncm_episodes(support, query)
    if "logreg" in classifiers:
        accs["logreg"] = logreg_episodes(support, query)
    if "finetune" in classifiers:
        steps = cfg["finetune_steps"]
        accs["finetune"] = finetune_episodes(model, pool.x, support_idx, query_idx, steps, lr)
    return accs


def evaluate_transfer(
    model: nn.Module,
    spec: RunSpec,
    data: Prepared,
    episodes: dict[str, np.ndarray],
    cfg: dict[str, Any],
    metric_cfg: dict[str, Any],
    eval_examples: int,
    source_metrics_csv: str | Path,
    status: str,
) -> pd.DataFrame:
    """One row per (way, shot, classifier): source GC, target NC / geometric collapse, accuracy.

    ``status`` is the run's (summary.json) and is recorded in every row. A run that is not ``ok``
    (diverged: its weights may be non-finite) is not evaluated: its rows keep the source metrics
    last logged but NaN target metrics and accuracies, and every consumer (claims, bounds,
    figures) selects ``status == ok`` rows only.
    """
    common = source_columns(spec, data, source_metrics_csv, status)
    classifiers = [c for c in ("ncm", "logreg") if c in cfg["classifiers"]]
    classifiers += ["finetune"] if cfg["finetune_steps"] > 0 else []
    pool = data.view("target", "all")
    nan = float("nan")
    if status == "ok":
        feats, _ = embed_and_logits(model, pool.x)  # on the model's device
        feats = nn.functional.normalize(feats, dim=1)
        common |= target_columns(model, eval_subset(pool, eval_examples), metric_cfg)
    else:
        common |= {"target_gc": nan, "target_nc": nan, "target_geometric_collapse": nan}
    rows = []
    for way in cfg["ways"]:
        for shot in cfg["shots"]:
            s_idx = episodes[f"w{way}_s{shot}_support"]
            q_idx = episodes[f"w{way}_s{shot}_query"]
            if status != "ok":
                accs = {clf: None for clf in classifiers}
            else:
                accs = episode_accuracies(model, pool, feats, s_idx, q_idx, classifiers, cfg,
                                          spec.lr)  # fmt: skip
            for clf, acc in accs.items():
                mean, half = mean_ci(acc) if acc is not None else (nan, nan)
                n = int(acc.numel()) if acc is not None else int(s_idx.shape[0])
                rows.append({**common, "way": way, "shot": shot, "classifier": clf,
                             "episodes": n, "accuracy": mean, "ci95": half})  # fmt: skip
    return pd.DataFrame(rows)
