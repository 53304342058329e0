"""Cost model of a preset: FLOPs, predicted GPU time, disk and host memory of every run.

* FLOPs are counted with ``torch.utils.flop_counter`` (matmuls and convolutions, 2 FLOPs per
  multiply-add; BatchNorm, ReLU, pooling not counted) on the real model (``build_model``) and
  training objective (``train_loss``), on the meta device (shapes only: a second per model),
  once per (arch, input shape, classes): per example a forward pass, a training step, one input
  VJP of the embedding, each GC-penalty probe. The same pass counts the aten ops (launch latency)
  and the activation bytes a forward pass retains (the stacked copies ``gc_terms`` runs on a GPU).
* GPU seconds of a pass = max(FLOPs / R, ops x t_op). R and t_op are calibrated on the H100 GC
  measurements of BENCHMARKS.md: gcnc exact GC of ResNet-18 on 256 examples (7 stacked copies,
  1.884 s, compute-bound: R) and the plain loop of 512 VJPs on 16 examples (1.231 s,
  launch-bound: t_op). Training is assumed to reach the same R (not yet measured on a GPU).
* SLURM: runtime = SAFETY x predicted + STARTUP_MIN, rounded up to 10 min; host memory from the
  dataset arrays (:func:`host_mem_mb`). Method and results: BENCHMARKS.md, "Paper preset compute
  (predicted)".
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from gcnc.config import RunSpec, study_runs
from gcnc.gc_sampling import HELDOUT_EXAMPLES
from gcnc.metrics.gc import GPU_ACTIVATION_BYTES, JVP_COST
from gcnc.models import build_model
from gcnc.pretrain import KEEP_CHECKPOINTS
from gcnc.training import train_loss

H100_MEMORY_BYTES = 80 * 10**9  # free memory default_vjp_batch sees: budget min(8 GiB, 1/4)
H100_EXACT = {"n": 256, "copies": 7, "seconds": 1.884}  # gcnc exact GC, ResNet-18 32x32
H100_PLAIN = {"n": 16, "seconds": 1.231}  # plain loop of 512 VJPs (+1 forward), ResNet-18 32x32
HOST_STEP_S = 0.4e-3  # host work per training step (minibatch randperm; measured, 2-core VM)
SAFETY = 1.5  # runtime request / predicted GPU time
STARTUP_MIN = 10  # imports, CUDA start-up, loading and normalising the arrays, final tables
HOST_BASE_MB = 4000  # Python, torch and the CUDA libraries resident on the host
SLOPE_EXAMPLES = 256  # path-slope batch of gcnc.evaluation.measure_step
CHUNK = 512  # gc_terms chunk size

# name: (train, test examples, input shape, classes, source classes, target classes)
DATASETS: dict[str, tuple[int, int, tuple[int, ...], int, int, int]] = {
    "mnist": (60000, 10000, (1, 28, 28), 10, 10, 0),
    "fashion_mnist": (60000, 10000, (1, 28, 28), 10, 5, 5),
    "cifar10": (50000, 10000, (3, 32, 32), 10, 10, 0),
    "cifar100": (50000, 10000, (3, 32, 32), 100, 100, 0),
    "cifar_fs": (50000, 10000, (3, 32, 32), 100, 64, 20),
    "mini_imagenet": (50000, 10000, (3, 84, 84), 100, 64, 20),
}


class _NoTracker(contextlib.nullcontext):
    parents = ("Global",)


class _Counter(FlopCounterMode):
    """FlopCounterMode without its module tracker, whose hooks reject ``autograd.grad`` on a leaf
    (the GC VJPs and the penalty); the counting rules are FlopCounterMode's own."""

    def __init__(self) -> None:
        super().__init__(display=False)
        self.mod_tracker = _NoTracker()  # type: ignore[assignment]


class _OpCounter(TorchDispatchMode):
    """Counts dispatched aten ops (each a kernel launch or a dispatcher round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.ops += 1
        return func(*args, **(kwargs or {}))


def _count(fn: Any) -> tuple[float, int]:
    with _Counter() as flops, _OpCounter() as ops:
        fn()
    return float(flops.get_total_flops()), ops.ops


@dataclass(frozen=True)
class ModelCost:
    """Counted costs of one model; FLOPs per example, ops per pass (any batch size)."""

    input_shape: tuple[int, ...]
    embed_dim: int
    n_params: int
    n_state: int  # floats in the state dict (parameters, BatchNorm statistics)
    forward: float  # embedding + head
    train: float  # cross-entropy forward + backward (all parameter gradients)
    vjp: float  # one input VJP of the embedding through a retained graph
    penalty_probe: float  # per GC-penalty probe (VJP with create_graph, double backward)
    saved_bytes: float  # activations an embedding forward retains (GPU stacked copies)
    ops_forward: int
    ops_train: int  # forward, backward and a foreach SGD step
    ops_vjp: int
    ops_penalty_probe: int


@lru_cache(maxsize=64)
def model_cost(arch: str, input_shape: tuple[int, ...], n_classes: int, **kw: int) -> ModelCost:
    """Count :class:`ModelCost` on the meta device at batch 2 (BatchNorm needs two examples).
    The GC penalty of k probes is modelled as k x the cost of the second probe; the rest (the
    first layer's input gradient) is < 1% of a forward pass of the paper's models."""
    b = 2
    with torch.device("meta"):
        model = build_model(arch, tuple(input_shape), n_classes, **kw)
        x, y = torch.empty(b, *input_shape), torch.zeros(b, dtype=torch.long)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def step(gc_reg: float, probes: int) -> None:
        train_loss(model, x, y, gc_reg, probes, torch.Generator())[1].backward()

    def saved(n: int) -> int:
        kept: dict[int, torch.Tensor] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            kept[id(t)] = t
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.embed(torch.empty(n, *input_shape, device="meta").requires_grad_(True))
        return sum(t.numel() * t.element_size() for t in kept.values())

    model.eval()
    f_fwd, o_fwd = _count(forward)
    xs = x.clone().requires_grad_(True)
    out = model.embed(xs)
    f_vjp, o_vjp = _count(lambda: torch.autograd.grad(out, xs, torch.ones_like(out)))
    model.train()
    f_tr, o_tr = _count(lambda: step(0.0, 1))
    f_p1, o_p1 = _count(lambda: step(1.0, 1))
    f_p2, o_p2 = _count(lambda: step(1.0, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, foreach=True)
    opt.step()  # the first step creates the momentum buffers
    return ModelCost(
        input_shape=tuple(input_shape),
        embed_dim=model.embed_dim,
        n_params=sum(p.numel() for p in model.parameters()),
        n_state=sum(v.numel() for v in model.state_dict().values() if v.is_floating_point()),
        forward=f_fwd / b,
        train=f_tr / b,
        vjp=f_vjp / b,
        penalty_probe=(f_p2 - f_p1) / b,
        saved_bytes=(saved(4) - saved(2)) / 2,
        ops_forward=o_fwd,
        ops_train=o_tr + _count(opt.step)[1],
        ops_vjp=o_vjp,
        ops_penalty_probe=o_p2 - o_p1,
    )


def spec_cost(spec: RunSpec) -> ModelCost:
    """:func:`model_cost` of a run's model on its dataset and task."""
    _, _, shape, n_classes, n_source, _ = DATASETS[spec.dataset]
    return model_cost(
        spec.arch, shape, n_source if spec.task == "source" else n_classes, **spec.model
    )


@dataclass(frozen=True)
class Throughput:
    """Sustained GPU FLOP/s (compute-bound passes) and seconds per aten op (launch-bound)."""

    flops_per_s: float
    seconds_per_op: float
    memory_bytes: float = H100_MEMORY_BYTES

    def seconds(self, flops: float, ops: float) -> float:
        return max(flops / self.flops_per_s, ops * self.seconds_per_op)


def stack_copies(cost: ModelCost, n: int, k: int, tp: Throughput | None) -> int:
    """Copies per backward pass of ``gc_terms`` for k VJPs on n examples: 1 on a CPU (no ``tp``),
    else the activation budget of ``default_vjp_batch``, evened out as ``_vjp_sq_norms`` does."""
    if tp is None:
        return 1
    budget = min(GPU_ACTIVATION_BYTES, tp.memory_bytes // 4)
    m = min(k, max(1, int(budget // (cost.saved_bytes * min(n, CHUNK)))))
    return math.ceil(k / math.ceil(k / m))


def gc_cost(
    cost: ModelCost, n: int, estimator: str, probes: int, tp: Throughput | None, **kw: Any
) -> tuple[float, float]:
    """(FLOPs, GPU seconds; 0 without ``tp``) of ``gc_terms`` on n examples, chunk by chunk;
    ``copies`` fixes the stacked copies, ``fraction`` samples coordinates (Fig. 2)."""
    d, p = math.prod(cost.input_shape), cost.embed_dim
    forward_mode = kw.get("forward_mode", estimator == "exact" and JVP_COST * d < p)
    k = probes if estimator == "hutchinson" else (d if forward_mode else p)
    k = max(1, math.ceil(kw.get("fraction", 1.0) * k))
    m = 1 if forward_mode else (kw.get("copies") or stack_copies(cost, n, k, tp))
    flops = secs = 0.0
    for rows in [CHUNK] * (n // CHUNK) + ([n % CHUNK] if n % CHUNK else []):
        if forward_mode:  # one JVP (primal + tangent) per input coordinate, no stacking
            fwd, passes, per_pass, ops = 0.0, k, JVP_COST * cost.vjp * rows, 2 * cost.ops_vjp
        else:
            passes = math.ceil(k / m)
            fwd, per_pass, ops = m * rows * cost.forward, m * rows * cost.vjp, cost.ops_vjp
        flops += fwd + passes * per_pass
        if tp is not None:
            secs += tp.seconds(fwd, cost.ops_forward) + passes * tp.seconds(per_pass, ops)
    return flops, secs


@lru_cache(maxsize=1)
def h100() -> Throughput:
    """R and t_op from the H100 GC measurements (module docstring)."""
    c = model_cost("resnet18", (3, 32, 32), 100)
    flops, _ = gc_cost(c, H100_EXACT["n"], "exact", 0, None, copies=H100_EXACT["copies"])
    t_op = H100_PLAIN["seconds"] / (c.embed_dim * c.ops_vjp + c.ops_forward)
    return Throughput(flops_per_s=flops / H100_EXACT["seconds"], seconds_per_op=t_op)


def log_cost(
    cost: ModelCost,
    n: tuple[int, int],
    metrics: dict[str, Any],
    endpoint: bool,
    tp: Throughput | None,
) -> tuple[float, float]:
    """(FLOPs, GPU seconds) of one logging step: GC and metrics on the train and test subsets
    (n), the path slope on the first 256 training examples."""
    est = metrics.get("endpoint_gc_estimator") if endpoint else None
    flops = secs = 0.0
    for rows in n:
        f, s = gc_cost(cost, rows, est or metrics["gc_estimator"], metrics["gc_probes"], tp)
        flops, secs = flops + f, secs + s
    slope = min(SLOPE_EXAMPLES, n[0]) * cost.train
    return flops + slope, secs + (tp.seconds(slope, cost.ops_train) if tp else 0.0)


def train_step_cost(
    cost: ModelCost, batch: int, gc_reg: float, probes: int, tp: Throughput | None
) -> tuple[float, float]:
    """(FLOPs, GPU seconds) of one SGD step, with the GC penalty when ``gc_reg`` > 0."""
    reg = probes if gc_reg > 0 else 0
    flops = batch * (cost.train + reg * cost.penalty_probe)
    ops = cost.ops_train + reg * cost.ops_penalty_probe
    secs = max(flops / tp.flops_per_s, ops * tp.seconds_per_op + HOST_STEP_S) if tp else 0.0
    return flops, secs


def split_sizes(spec: RunSpec, eval_examples: int) -> tuple[int, int]:
    """Evaluation examples per split of a run's task view: min(eval_examples, split size)."""
    n_train, n_test, _, n_classes, n_source, _ = DATASETS[spec.dataset]
    frac = n_source / n_classes if spec.task == "source" else 1.0
    return min(eval_examples, int(n_train * frac)), min(eval_examples, int(n_test * frac))


def host_mem_mb(spec: RunSpec, cost: ModelCost) -> int:
    """Host memory of a pretraining job: float32 arrays of both splits, the uint8 file, two
    transient train-split copies (normalising, the task view), checkpoint buffers and the
    resident libraries; x 1.25, rounded up to 1000 MB."""
    n_train, n_test, shape, *_ = DATASETS[spec.dataset]
    data = 4 * math.prod(shape) * ((n_train + n_test) * 1.25 + 2 * n_train)
    total = data / 2**20 + 16 * (cost.n_state + cost.n_params) / 2**20 + HOST_BASE_MB
    return int(math.ceil(1.25 * total / 1000) * 1000)


@dataclass(frozen=True)
class RunCost:
    """Predicted cost of one pretraining run and of its few-shot job (source runs), on a GPU."""

    run_id: str
    arch: str
    dataset: str
    train_flops: float
    log_flops: float
    train_s: float
    log_s: float
    fewshot_s: float
    disk_bytes: int  # keep_checkpoints x (model state + momentum) + final.pt, float32
    mem_mb: int

    @property
    def log_share(self) -> float:
        """Metric-logging FLOPs / training FLOPs."""
        return self.log_flops / self.train_flops

    @property
    def gpu_hours(self) -> float:
        """Pretraining job (training + logging), without start-up."""
        return (self.train_s + self.log_s) / 3600

    @property
    def runtime_min(self) -> int:
        """Suggested SLURM runtime: SAFETY x prediction + start-up, rounded up to 10 minutes."""
        return int(math.ceil((SAFETY * (self.train_s + self.log_s) / 60 + STARTUP_MIN) / 10) * 10)


def run_cost(spec: RunSpec, preset: dict[str, Any], tp: Throughput | None = None) -> RunCost:
    """Cost of ``spec`` under a preset's ``training`` and ``metrics``; GPU ``tp`` (H100)."""
    tp = tp or h100()
    train_cfg, metrics = preset["training"], preset["metrics"]
    cost = spec_cost(spec)
    step_f, step_s = train_step_cost(
        cost, spec.batch_size, spec.gc_reg, metrics.get("gc_reg_probes", 1), tp
    )
    n = split_sizes(spec, train_cfg["eval_examples"])
    mid = 1 + (spec.steps - 1) // spec.log_interval(train_cfg)  # logged steps besides the last
    mid_f, mid_s = log_cost(cost, n, metrics, False, tp)
    end_f, end_s = log_cost(cost, n, metrics, True, tp)
    written = math.ceil(spec.steps / train_cfg["checkpoint_every"])
    keep = min(written, train_cfg.get("keep_checkpoints", KEEP_CHECKPOINTS))
    return RunCost(
        run_id=spec.run_id,
        arch=spec.arch,
        dataset=spec.dataset,
        train_flops=spec.steps * step_f,
        log_flops=mid * mid_f + end_f,
        train_s=spec.steps * step_s,
        log_s=mid * mid_s + end_s,
        fewshot_s=fewshot_cost(spec, preset, tp)[1],
        disk_bytes=4 * (keep * (cost.n_state + cost.n_params) + cost.n_state),
        mem_mb=host_mem_mb(spec, cost),
    )


def fewshot_cost(
    spec: RunSpec, preset: dict[str, Any], tp: Throughput | None
) -> tuple[float, float]:
    """(FLOPs, GPU seconds) of the few-shot job of a source run: target-pool features and its
    endpoint GC on ``eval_examples`` of the pool; (0, 0) for other runs. The episode classifiers
    (about 2 s, BENCHMARKS.md) are not counted."""
    if spec.task != "source":
        return 0.0, 0.0
    n_train, n_test, _, n_classes, _, n_target = DATASETS[spec.dataset]
    pool = (n_train + n_test) * n_target // n_classes
    cost, metrics = spec_cost(spec), preset["metrics"]
    est = metrics.get("endpoint_gc_estimator", metrics["gc_estimator"])
    n = min(pool, preset["training"]["eval_examples"])
    f, s = gc_cost(cost, n, est, metrics["gc_probes"], tp)
    return f + pool * cost.forward, s + (tp.seconds(pool * cost.forward, 0) if tp else 0.0)


def gc_sampling_cost(
    config: dict[str, Any], preset_name: str, tp: Throughput | None
) -> tuple[float, float]:
    """(FLOPs, GPU seconds) of the Fig. 2 job (``gcnc.gc_sampling.sampling_study``): exact GC
    on the pool and on the held-out reference, then every level of the four axes x trials; a
    level that keeps everything runs once."""
    cfg = config["presets"][preset_name]["gc_sampling"]
    spec = study_runs(config, preset_name, cfg["study"])[0]
    cost, n = spec_cost(spec), split_sizes(spec, cfg["eval_examples"])[0]
    train_size = split_sizes(spec, 10**12)[0]
    heldout = min(cfg.get("heldout_examples", HELDOUT_EXAMPLES), train_size - n)
    jobs = [(1, n, {"estimator": "exact"}), (1, heldout, {"estimator": "exact"})]
    for k in cfg["example_counts"]:
        jobs.append((1 if k >= n else cfg["trials"], min(k, n), {"estimator": "exact"}))
    for axis, key in (("input", "input_fractions"), ("feature", "feature_fractions")):
        for f in cfg[key]:
            kw = {"estimator": "exact", "fraction": f, "forward_mode": axis == "input"}
            jobs.append((1 if f >= 1 else cfg["trials"], n, kw))
    for f in cfg["feature_fractions"]:
        probes = max(1, math.ceil(f * cost.embed_dim))
        jobs.append((cfg["trials"], n, {"estimator": "hutchinson", "probes": probes}))
    total_f = total_s = 0.0
    for times, rows, kw in jobs:
        kw = dict(kw)
        f, s = gc_cost(cost, rows, kw.pop("estimator"), kw.pop("probes", 0), tp, **kw)
        total_f, total_s = total_f + times * f, total_s + times * s
    return total_f, total_s


def slurm_request(spec: RunSpec, preset: dict[str, Any]) -> dict[str, int]:
    """SLURM resources of one pretraining job: runtime (minutes), host mem_mb and one GPU; the
    workflow multiplies runtime and mem_mb by the attempt number on a retry."""
    cost = run_cost(spec, preset)
    return {"runtime": cost.runtime_min, "mem_mb": cost.mem_mb, "gpu": 1}
