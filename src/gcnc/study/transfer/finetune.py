"""Transfer modes of Li et al. on the target classes (docs/paper.md section 9).

From one pretrained source model, on the target classes' training set (a balanced subset):

- ``linear_probe``: the whole network frozen, a new linear classifier on the penultimate
  features (Sec. 3.2 of Li et al.);
- ``layer_ft``: one unit (:func:`gcnc.models.transfer_units`) and a new classifier trained, all
  else frozen; every unit is tried and the best is flagged (Table 2);
- ``scl_ft``: layer FT plus the skip branch of Fig. 7 (:class:`gcnc.models.SkipBranch`) from
  the unit's output, added to the penultimate features; trains unit, branch and classifier;
- ``full_ft``: every parameter trained from the pretrained weights.

Layer, SCL and full FT are trained with the ``finetune`` config's SGD settings (never the
pretraining LR) from one seed (same classifier initialisation and minibatch order for every
mode); the linear probe, a convex problem, is fitted to convergence. Frozen parts stay in eval
mode (BatchNorm statistics untouched) with ``requires_grad`` off, so they are bit-identical after
training; the pretrained model is deep-copied, never changed. After training, on the target
training set: NC1 (Eq. 4, explicit pseudo-inverse tolerance), average CDNV and numerical rank
(App. A.1); test accuracy on a balanced subset of the target test split. Everything runs on the
model's device.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from gcnc.metrics.collapse import nc1, neural_collapse, stable_rank
from gcnc.metrics.snapshot import model_device
from gcnc.models import EmbedClassifier, TransferNet, Unit, transfer_units, unit_channels
from gcnc.study.data.prepared import Prepared, Split
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.evaluation import eval_subset
from gcnc.study.pretraining.schedule import learning_rate

MODES = ("linear_probe", "layer_ft", "scl_ft", "full_ft")
PROBE_ITERS = 500  # L-BFGS iterations of the linear probe (it stops earlier once converged)
FEWSHOT_MODES = ("fewshot_ncm", "fewshot_logreg")
ROW_COLUMNS = {  # per (mode, unit); every other column of finetune.csv is per source run
    "mode",
    "unit",
    "trainable_params",
    "total_params",
    "accuracy",
    "train_accuracy",
    "target_nc1",
    "target_cdnv",
    "stable_rank",
    "target_nc1_test",
    "finetune_steps",
    "seconds",
    "best",
}


def build_transfer(
    model: EmbedClassifier,
    arch: str,
    input_shape: tuple[int, ...],
    mode: str,
    unit: str | None,
    n_classes: int,
    seed: int,
) -> tuple[TransferNet, list[nn.Module]]:
    """A deep copy of ``model`` (never changed in place) set up for ``mode`` on ``n_classes``
    target classes: the net and its trainable modules (all other parameters frozen)."""
    if mode not in MODES:
        raise ValueError(f"unknown transfer mode '{mode}'; choose one of {MODES}")
    embed = copy.deepcopy(model.embed)
    tuned: Unit | None = None
    if mode in ("layer_ft", "scl_ft"):
        tuned = {u.name: u for u in transfer_units(arch, embed)}[str(unit)]
    tap = tuned.tap if mode == "scl_ft" and tuned is not None else None
    c_unit = unit_channels(embed, tap, input_shape) if tap is not None else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same new classifier for every mode of a run
        net = TransferNet(embed, model.embed_dim, n_classes, tap, c_unit)
    net = net.to(model_device(model))
    if mode == "full_ft":
        return net, [net]
    for p in embed.parameters():
        p.requires_grad_(False)
    train: list[nn.Module] = [net.head]
    if tuned is not None:
        train += tuned.modules
        for p in tuned.parameters():
            p.requires_grad_(True)
    if net.branch is not None:
        train.append(net.branch)
    return net, train


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[torch.Tensor]:
    """Minibatch indices for ``steps`` steps: seeded permutations, epoch after epoch."""
    g = torch.Generator().manual_seed(seed)
    perms = torch.cat([torch.randperm(n, generator=g) for _ in range(-(-steps * batch_size // n))])
    return list(perms[: steps * batch_size].view(steps, batch_size))


def fit_probe(head: nn.Linear, feats: torch.Tensor, y: torch.Tensor, l2: float) -> None:
    """Linear probe: the classifier on frozen features, fitted to convergence (full-batch
    L-BFGS, at most PROBE_ITERS iterations) on cross-entropy + (l2 / 2) ||W||^2, the L2 that SGD
    weight decay ``l2`` applies. Convex, so its optimum, not a step budget, defines the probe."""
    head.train()
    y = y.to(feats.device)
    opt = torch.optim.LBFGS(
        head.parameters(), lr=1.0, max_iter=PROBE_ITERS, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(head(feats), y) + 0.5 * l2 * head.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    head.eval()


def fit(net: TransferNet, train_modules: list[nn.Module], data: Split, cfg: dict[str, Any]):
    """SGD (momentum, weight decay, LR schedule of ``cfg``) on cross-entropy for ``cfg['steps']``
    minibatches, training only the parameters of ``train_modules`` (in train mode; everything
    else in eval mode, BatchNorm statistics untouched). ``data`` may stay on the CPU."""
    params = [p for m in train_modules for p in m.parameters() if p.requires_grad]
    opt = torch.optim.SGD(
        params, lr=cfg["lr"], momentum=cfg.get("momentum", 0.9), weight_decay=cfg["weight_decay"]
    )
    net.eval()
    for m in train_modules:
        m.train()
    device, schedule = model_device(net), cfg.get("lr_schedule", "constant")
    bs = min(cfg["batch_size"], data.x.shape[0])
    for step, idx in enumerate(_batches(data.x.shape[0], bs, cfg["steps"], cfg["seed"]), 1):
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg["lr"], step, cfg["steps"], schedule)
        xb, yb = data.x[idx].to(device), data.y[idx].to(device)
        opt.zero_grad()
        nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()
    net.eval()


@torch.no_grad()
def features(net: TransferNet, x: torch.Tensor, chunk: int = 512) -> torch.Tensor:
    """Penultimate (combined, for SCL) features in eval mode, on the net's device."""
    device = model_device(net)
    net.eval()
    return torch.cat([net.features(c.to(device)) for c in x.split(chunk)])


def collapse_row(feats: torch.Tensor, y: torch.Tensor, rtol: float) -> dict[str, float]:
    """Target NC1 (Li et al. Eq. 4, pinv tolerance ``rtol``), average CDNV (App. A.1) and
    numerical rank (App. A.1) of features with labels ``y``."""
    y = y.to(feats.device)
    return {
        "target_nc1": nc1(feats, y, rtol=rtol),
        "target_cdnv": neural_collapse(feats, y),
        "stable_rank": stable_rank(feats, y),
    }


def unit_names(arch: str, model: EmbedClassifier, which: str) -> list[str]:
    """The units layer / SCL FT try: ``all`` (first block of every stage, as Li et al.) or
    ``first_last`` (first and last stage only, for the CPU budget)."""
    names = [u.name for u in transfer_units(arch, model.embed)]
    return names if which == "all" else list(dict.fromkeys([names[0], names[-1]]))


def target_splits(data: Prepared, cfg: dict[str, Any]) -> tuple[Split, Split]:
    """The fine-tuning set (a balanced subset of the target classes' training split,
    ``train_per_class`` each when set) and the balanced test subset (``eval_examples``)."""
    train, test = data.view("target", "train"), data.view("target", "test")
    k = len(data.classes("target"))
    if cfg.get("train_per_class"):
        train = eval_subset(train, cfg["train_per_class"] * k)
    return train, eval_subset(test, cfg["eval_examples"])


def _plan(cfg: dict[str, Any], units: list[str]) -> list[tuple[str, str]]:
    """(mode, unit) pairs to train, in the order of :data:`MODES`; ``-``: no unit."""
    modes = [m for m in MODES if m in cfg["modes"]]
    return [(m, u) for m in modes for u in (units if m in ("layer_ft", "scl_ft") else ["-"])]


def _accuracy(net: TransferNet, feats: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((net.head(feats).argmax(1) == y.to(feats.device)).double().mean())


def _source(spec: RunSpec, status: str, metrics_csv: str) -> dict[str, Any]:
    src = pd.read_csv(metrics_csv)
    last = src[(src.split == "train") & (src.step == src.step.max())].iloc[0]
    return {
        "run_id": spec.run_id,
        **{k: v for k, v in spec.to_dict().items() if k != "model"},
        "status": status,
        **{f"source_{m}": last.get(m, np.nan) for m in ("gc", "nc", "nc1", "stable_rank")},
    }


def transfer_table(
    model: EmbedClassifier,
    spec: RunSpec,
    data: Prepared,
    cfg: dict[str, Any],
    source_metrics_csv: str,
    status: str,
) -> pd.DataFrame:
    """One row per (mode, unit) for one pretrained source run: trainable parameters, target test
    accuracy, and target NC1 / CDNV / numerical rank after transfer (``*_before``: the frozen
    pretrained features; NC1 on the target training set, ``target_nc1_test`` on the test
    subset). ``best``: the unit of highest accuracy within its mode (Li et al. Table 2). A run
    that is not ``ok`` keeps its rows with NaN measurements."""
    common = _source(spec, status, source_metrics_csv)
    k = len(data.classes("target"))
    plan = _plan(cfg, unit_names(spec.arch, model, cfg["units"]))
    if status != "ok":
        return pd.DataFrame([{**common, "mode": m, "unit": u, "accuracy": np.nan} for m, u in plan])
    train, test = target_splits(data, cfg)
    seed, rtol = cfg["seed"], cfg["nc1_rtol"]
    shape = data.input_shape
    frozen, _ = build_transfer(model, spec.arch, shape, "linear_probe", None, k, seed)
    f_train = features(frozen, train.x)
    common |= {f"{c}_before": v for c, v in collapse_row(f_train, train.y, rtol).items()}
    common |= {
        "target_classes": k,
        "embed_dim": model.embed_dim,
        "n_train": int(train.x.shape[0]),
        "n_test": int(test.x.shape[0]),
    }
    rows = []
    for mode, unit in plan:
        t0 = time.perf_counter()
        net, trained = build_transfer(model, spec.arch, shape, mode, unit, k, seed)
        probe = mode == "linear_probe"
        if probe:
            fit_probe(net.head, f_train, train.y, cfg["weight_decay"])
        else:
            fit(net, trained, train, cfg)
        tr = f_train if probe else features(net, train.x)
        te = features(net, test.x)
        params = {id(p): p.numel() for m in trained for p in m.parameters() if p.requires_grad}
        rows.append(
            {
                **common,
                "mode": mode,
                "unit": unit,
                "trainable_params": sum(params.values()),
                "total_params": sum(p.numel() for p in net.parameters()),
                "accuracy": _accuracy(net, te, test.y),
                "train_accuracy": _accuracy(net, tr, train.y),
                **collapse_row(tr, train.y, rtol),
                "target_nc1_test": nc1(te, test.y.to(te.device), rtol=rtol),
                "finetune_steps": 0 if probe else cfg["steps"],
                "seconds": time.perf_counter() - t0,
            }
        )
    table = pd.DataFrame(rows)
    best = table.groupby("mode").accuracy.transform("max")
    table["best"] = (table.accuracy == best) & ~table.duplicated(["mode", "accuracy"])
    return table


def fewshot_rows(fewshot: pd.DataFrame, finetune: pd.DataFrame) -> pd.DataFrame:
    """The few-shot episodes (gcnc.study.transfer.fewshot, largest shot) as modes ``fewshot_ncm``
    and ``fewshot_logreg`` of finetune.csv, for the runs in ``finetune``. Frozen features, so the
    run's ``*_before`` target NC1 and numerical rank are theirs; ``target_cdnv`` is the few-shot
    pool's (fewshot.csv ``target_nc``); logistic regression trains (d + 1) x way parameters."""
    if fewshot.empty or finetune.empty:
        return finetune.iloc[:0]
    fs = fewshot[(fewshot["shot"] == fewshot["shot"].max()) & fewshot.run_id.isin(finetune.run_id)]
    per_run = finetune.drop_duplicates("run_id").set_index("run_id")
    per_run = per_run[[c for c in per_run.columns if c not in ROW_COLUMNS]]
    out = fs[["run_id", "way", "shot", "classifier", "accuracy", "ci95", "target_nc"]]
    out = out.join(per_run, on="run_id").rename(columns={"target_nc": "target_cdnv"})
    out["mode"] = "fewshot_" + out.pop("classifier")
    out["unit"] = "-"
    logreg = (out["embed_dim"] + 1) * out["way"] if "embed_dim" in out else np.nan
    out["trainable_params"] = np.where(out["mode"] == "fewshot_logreg", logreg, 0)
    if "target_nc1_before" in out:
        out["target_nc1"] = out["target_nc1_before"]
        out["stable_rank"] = out["stable_rank_before"]
    out["best"] = True
    return out.reset_index(drop=True)
