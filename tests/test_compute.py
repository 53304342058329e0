"""The cost model (gcnc.study.theory.compute): counted FLOPs against closed forms, and consistent
run totals."""

from __future__ import annotations

import copy
import dataclasses
import math
from pathlib import Path

import pytest
import torch

from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.pretrain import KEEP_CHECKPOINTS
from gcnc.study.pretraining.sgd import train_loss
from gcnc.study.theory import compute as C
from gcnc.study.theory import flops as F

ROOT = Path(__file__).resolve().parents[1]

TP = C.Throughput(flops_per_s=1e14, seconds_per_op=2e-5)  # a made-up GPU: no calibration run
PRESET = {
    "training": {"steps": 3000, "log_every": 100, "checkpoint_every": 100, "eval_examples": 700},
    "metrics": {"gc_estimator": "hutchinson", "gc_probes": 8, "gc_reg_probes": 1},
}


def _spec(**kw) -> RunSpec:
    base = dict(
        dataset="cifar10",
        arch="cnn",
        task="full",
        lr=0.01,
        batch_size=64,
        weight_decay=0.0,
        gc_reg=0.0,
        seed=0,
        steps=3000,
    )
    return RunSpec(**{**base, **kw})


def test_mlp_flops_match_the_closed_form():
    d, h, p, k = 4, 128, 64, 10  # default mlp: 128 hidden units, 64-d embedding
    c = F.model_cost("mlp", (d,), k)
    macs = d * h + h * p + p * k
    assert c.forward == 2 * macs
    # backward: weight gradients of every layer, input gradients of all but the first
    assert c.train == 2 * (3 * macs - d * h)
    assert c.vjp == 2 * (d * h + h * p)  # input gradients of the embedding's two layers
    assert c.n_params == (d + 1) * h + (h + 1) * p + (p + 1) * k
    assert c.embed_dim == p


def test_cnn_flops_match_the_closed_form():
    c = F.model_cost("cnn", (1, 8, 8), 10)  # 16 and 32 channels, 3x3 kernels, 128-d embedding
    conv = 2 * 9 * (1 * 16 * 8 * 8 + 16 * 32 * 4 * 4)
    linear = 2 * (32 * 2 * 2 * 128 + 128 * 10)
    assert c.forward == conv + linear


def test_penalty_is_linear_in_the_probes():
    """Counted with the real objective; the part not proportional to the probes (the first
    layer's input gradient) is small: 1.6% of the step on this CNN, < 1% of a forward pass on
    the paper's models (bench_paper_compute.py)."""
    c = F.model_cost("cnn", (1, 8, 8), 10)
    with torch.device("meta"):
        model = build_model("cnn", (1, 8, 8), 10)
        x, y = torch.empty(2, 1, 8, 8), torch.zeros(2, dtype=torch.long)
    model.train()
    for probes in (1, 3):
        flops, _ = F._count(
            lambda k=probes: train_loss(model, x, y, 1.0, k, torch.Generator())[1].backward()
        )
        model_flops = 2 * (c.train + probes * c.penalty_probe)
        assert flops == pytest.approx(model_flops, rel=0.02)
    assert 2.5 < c.penalty_probe / c.forward < 3.5  # VJP with create_graph + double backward


def test_hutchinson_cost_on_a_cpu_is_one_forward_and_k_vjps_per_example():
    c = F.model_cost("cnn", (3, 32, 32), 10)
    flops, seconds = C.gc_cost(c, 1300, "hutchinson", 8, None)
    assert flops == pytest.approx(1300 * (c.forward + 8 * c.vjp))
    assert seconds == 0.0
    # on a GPU: m stacked copies, the forward pass m times, ceil(k / m) * m VJP rows
    m = C.stack_copies(c, 1300, 8, TP)
    gpu, _ = C.gc_cost(c, 1300, "hutchinson", 8, TP)
    assert gpu == pytest.approx(1300 * m * (c.forward + math.ceil(8 / m) * c.vjp))


def test_run_totals_are_consistent():
    spec = _spec()
    r = C.run_cost(spec, PRESET, TP)
    twice = C.run_cost(dataclasses.replace(spec, steps=6000), PRESET, TP)
    assert twice.train_flops == pytest.approx(2 * r.train_flops)
    assert twice.train_s == pytest.approx(2 * r.train_s)
    c = F.spec_cost(spec)
    step_f, _ = C.train_step_cost(c, 64, 0.0, 1, TP)
    assert r.train_flops == pytest.approx(3000 * step_f)
    assert step_f == pytest.approx(64 * c.train)
    per_log, _ = C.log_cost(c, (700, 700), PRESET["metrics"], False, TP)
    assert r.log_flops == pytest.approx(31 * per_log)  # steps 0, 100, ..., 3000
    assert r.log_share == pytest.approx(r.log_flops / r.train_flops)
    # the GC penalty (one probe) adds one probe's cost per example to every step
    reg = C.run_cost(dataclasses.replace(spec, gc_reg=0.1), PRESET, TP)
    assert reg.train_flops == pytest.approx(r.train_flops + 3000 * 64 * c.penalty_probe)


def test_endpoint_estimator_and_eval_examples_change_only_logging():
    spec = _spec()
    exact = copy.deepcopy(PRESET)
    exact["metrics"]["endpoint_gc_estimator"] = "exact"
    base, ends = C.run_cost(spec, PRESET, TP), C.run_cost(spec, exact, TP)
    c = F.spec_cost(spec)
    one = C.log_cost(c, (700, 700), exact["metrics"], True, TP)[0]
    mid = C.log_cost(c, (700, 700), exact["metrics"], False, TP)[0]
    assert ends.log_flops == pytest.approx(30 * mid + one)  # exact at the last step only
    assert ends.train_flops == base.train_flops
    fewer = copy.deepcopy(PRESET)
    fewer["training"]["eval_examples"] = 350
    assert C.run_cost(spec, fewer, TP).log_flops < base.log_flops


def test_runtime_is_monotone_in_steps_and_requests_are_sane():
    runtimes = [
        C.run_cost(_spec(steps=s), PRESET, TP).runtime_min for s in (10, 1000, 10**5, 10**6)
    ]
    assert runtimes == sorted(runtimes) and runtimes[-1] > runtimes[0]
    assert all(r % 10 == 0 and r >= C.STARTUP_MIN for r in runtimes)
    r = C.run_cost(_spec(), PRESET, TP)
    assert r.runtime_min >= C.SAFETY * r.gpu_hours * 60
    # host memory covers the float32 arrays: 60,000 CIFAR images of 3x32x32
    assert r.mem_mb * 2**20 > 60000 * 3 * 32 * 32 * 4
    keep = KEEP_CHECKPOINTS
    c = F.spec_cost(_spec())
    assert r.disk_bytes == 4 * (keep * (c.n_state + c.n_params) + c.n_state)


def test_h100_calibration_and_stacked_copies_match_the_gpu_measurements():
    """BENCHMARKS.md (H100): default_vjp_batch chose 7 copies for ResNet-18 at n = 256 and 114
    at n = 16 from measured activation memory; the counted retained bytes give the same."""
    tp, c = C.h100(), F.model_cost("resnet18", (3, 32, 32), 100)
    assert C.gc_cost(c, 256, "exact", 0, tp, copies=7)[1] == pytest.approx(1.884, rel=1e-3)
    assert C.stack_copies(c, 256, 512, tp) == 7
    budget = C.GPU_ACTIVATION_BYTES
    assert int(budget // (c.saved_bytes * 16)) == 114
    assert 50e12 < tp.flops_per_s < 200e12 and 5e-6 < tp.seconds_per_op < 1e-4


@pytest.mark.slow
def test_paper_requests_cover_every_run_prediction(config):
    """The static SLURM requests of profiles/resources.yaml are at least the cost
    model's per-run request (1.5x the predicted H100 time + start-up), for every run of the
    paper preset."""
    from gcnc.study.grid import expand_runs
    from gcnc.study.resources import preset_resources, pretrain_request
    from gcnc.study.theory.compute import slurm_request

    preset = config["presets"]["paper"]
    resources = preset_resources(config, "paper", ROOT / "profiles/resources.yaml")
    short = []
    for run_id, spec in expand_runs(config, "paper").items():
        need, have = slurm_request(spec, preset), pretrain_request(spec, resources)
        if have["runtime"] < need["runtime"] or have["mem_mb"] < need["mem_mb"]:
            short.append((run_id, need, have))
    assert not short
