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

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gcnc.metrics.gc import GPU_ACTIVATION_BYTES, JVP_COST
from gcnc.study.grid import RunSpec, study_runs
from gcnc.study.pretraining.pretrain import KEEP_CHECKPOINTS
from gcnc.study.theory.flops import DATASETS, ModelCost, model_cost, spec_cost
from gcnc.study.theory.gc_sampling import HELDOUT_EXAMPLES

H100_MEMORY_BYTES = 80 * 10**9  # free memory default_vjp_batch sees: budget min(8 GiB, 1/4)
H100_EXACT = {"n": 256, "copies": 7, "seconds": 1.884}  # gcnc exact GC, ResNet-18 32x32
H100_PLAIN = {"n": 16, "seconds": 1.231}  # plain loop of 512 VJPs (+1 forward), ResNet-18 32x32
HOST_STEP_S = 0.4e-3  # host work per training step (minibatch randperm; measured, 2-core VM)
SAFETY = 1.5  # runtime request / predicted GPU time
STARTUP_MIN = 10  # imports, CUDA start-up, loading and normalising the arrays, final tables
HOST_BASE_MB = 4000  # Python, torch and the CUDA libraries resident on the host
SLOPE_EXAMPLES = 256  # path-slope batch of gcnc.study.pretraining.evaluation.measure_step
CHUNK = 512  # gc_terms chunk size


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
    """(FLOPs, GPU seconds) of the Fig. 2 job (``gcnc.study.theory.gc_sampling.sampling_study``):
    exact GC
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
