"""The same device paths on a real CUDA GPU (skipped without one): measurements, a pretraining
run, few-shot transfer, the GC sampling study and the workflow scripts on ``cuda`` agree with the
CPU (up to float32 / TF32 rounding), and training stays read-only where it should."""

import copy
import json

import pandas as pd
import pytest
import torch

from gcnc.metrics import path_slope
from gcnc.metrics.gc import per_example_gc
from gcnc.metrics.snapshot import snapshot
from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining import pretrain
from gcnc.study.theory import gc_sampling
from gcnc.study.transfer.fewshot import evaluate_transfer
from tests.test_device import (
    FEWSHOT,
    METRICS,
    SAMPLING,
    fewshot_inputs,
    run_script,
    run_spec,
    script_inputs,
)

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]
CUDA = "cuda"
NUMERIC = ["estimate", "exact"]


def close_rows(a: dict, b: dict, rel: float) -> None:
    assert a.keys() == b.keys()
    for k, v in a.items():
        if isinstance(v, float):
            assert b[k] == pytest.approx(v, rel=rel, abs=1e-12, nan_ok=True), k
        else:
            assert b[k] == v, k


@pytest.mark.parametrize("arch, shape", [("cnn", (1, 8, 8)), ("mlp", (6,))])
def test_snapshot_and_slope_on_cuda(arch, shape):
    """float64 on both devices, exact GC in reverse mode (cnn) and forward mode (mlp)."""
    torch.manual_seed(0)
    model = build_model(arch, shape, 3, embed_dim=16, width=8).double()
    x, y = torch.randn(24, *shape, dtype=torch.float64), torch.arange(24) % 3
    gpu = copy.deepcopy(model).to(CUDA)
    rows = []
    for m, xs, ys in ((model, x, y), (gpu, x.to(CUDA), y.to(CUDA))):
        row, class_rows, means = snapshot(m, xs, ys, 3, estimator="exact")
        assert means.device == xs.device
        rows.append((row, class_rows, path_slope(m, xs, ys)))
    (a, ca, sa), (b, cb, sb) = rows
    close_rows(a, b, 1e-8)
    for r, s in zip(ca, cb, strict=True):
        close_rows(r, s, 1e-8)
    assert sb == pytest.approx(sa, rel=1e-8)


def test_batchnorm_models_measured_read_only_on_cuda():
    torch.manual_seed(0)
    model = build_model("vgg11", (3, 16, 16), 4).to(CUDA).train()
    before = copy.deepcopy(model.state_dict())
    x, y = torch.randn(8, 3, 16, 16, device=CUDA), torch.arange(8, device=CUDA) % 4
    snapshot(model, x, y, 4, estimator="hutchinson", n_probes=2)
    path_slope(model, x, y)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(m.training for m in model.modules())


def test_pretrain_on_cuda_matches_cpu(digits, config, tmp_path):
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["training"].update(log_every=3, checkpoint_every=2, eval_examples=40)
    for device in ("cpu", CUDA):
        summary = pretrain.pretrain(
            run_spec(), digits, {**preset, "device": device}, tmp_path / device, progress=False
        )
        assert summary["status"] == "ok"
    drop = ["wall_time", "log_seconds", "device"]
    a, b = (pd.read_csv(tmp_path / d / "metrics.csv") for d in ("cpu", CUDA))
    assert set(b.device) == {CUDA}
    assert json.loads((tmp_path / CUDA / "config.json").read_text())["device"] == CUDA
    a, b = a.drop(columns=drop), b.drop(columns=drop)
    numeric = [c for c in a.columns if a[c].dtype.kind == "f" and c not in ("lr", "gc_reg")]
    pd.testing.assert_frame_equal(a.drop(columns=numeric), b.drop(columns=numeric))
    pd.testing.assert_frame_equal(a[numeric], b[numeric], rtol=2e-2)  # 6 steps, float32
    final = torch.load(tmp_path / CUDA / "final.pt", map_location="cpu", weights_only=True)
    assert all(t.device.type == "cpu" for t in final.values())
    # a run resumed on the GPU from a GPU checkpoint goes on from where it stopped
    ckpts = sorted((tmp_path / CUDA / "checkpoints").glob("*.pt"))
    for c in ckpts[1:]:
        c.unlink()
    (tmp_path / CUDA / "metrics.csv").unlink()
    pretrain.pretrain(
        run_spec(), digits, {**preset, "device": CUDA}, tmp_path / CUDA, progress=False
    )
    c = pd.read_csv(tmp_path / CUDA / "metrics.csv").drop(columns=drop)
    pd.testing.assert_frame_equal(c[numeric], b[numeric], rtol=1e-3)


def test_gc_regularised_step_updates_batchnorm_once_on_cuda(digits, config, tmp_path):
    spec = RunSpec(
        dataset="digits", arch="vgg11", task="full", lr=0.01, batch_size=8,
        weight_decay=0.0, gc_reg=0.1, seed=0, steps=1,
    )  # fmt: skip
    preset = copy.deepcopy(config["presets"]["smoke"]) | {"device": CUDA}
    preset["training"]["eval_examples"] = 60
    pretrain.pretrain(spec, digits, preset, tmp_path, progress=False)
    final = torch.load(tmp_path / "final.pt", map_location="cpu", weights_only=True)
    counts = {int(v) for k, v in final.items() if k.endswith("num_batches_tracked")}
    assert counts == {1}


def test_fewshot_and_sampling_on_cuda(digits, tmp_path):
    spec, model, episodes, src = fewshot_inputs(digits, tmp_path)
    tables = []
    for m in (model, copy.deepcopy(model).to(CUDA)):
        torch.manual_seed(5)
        tables.append(evaluate_transfer(m, spec, digits, episodes, FEWSHOT, METRICS, 30, src, "ok"))
    a, b = tables
    for col in ("target_gc", "target_nc", "target_geometric_collapse"):
        assert b[col].to_numpy() == pytest.approx(a[col].to_numpy(), rel=1e-3)
    assert (b.accuracy - a.accuracy).abs().max() < 0.1  # float32 ties and fine-tuning steps
    split = digits.view("full", "train")
    s_cpu = gc_sampling.sampling_study(model, split, SAMPLING)
    s_gpu = gc_sampling.sampling_study(copy.deepcopy(model).to(CUDA), split, SAMPLING)
    assert s_gpu[NUMERIC].to_numpy() == pytest.approx(s_cpu[NUMERIC].to_numpy(), rel=1e-3)


@pytest.mark.parametrize("name", ["fewshot", "gc_sampling"])
def test_workflow_scripts_on_cuda(name, digits, prepared_dir, tmp_path):
    inputs, params = script_inputs(name, digits, prepared_dir, tmp_path, SAMPLING, CUDA)  # GPU file
    cpu = run_script(name, inputs, {**params, "device": "cpu"}, tmp_path)
    gpu = run_script(name, inputs, {**params, "device": CUDA}, tmp_path)
    assert "device: cuda" in (tmp_path / f"{name}.log").read_text()
    assert list(cpu.columns) == list(gpu.columns) and len(cpu) == len(gpu)
    cols = ["target_gc", "target_nc"] if name == "fewshot" else NUMERIC
    assert gpu[cols].to_numpy() == pytest.approx(cpu[cols].to_numpy(), rel=1e-3)


def test_gc_on_cuda_in_forward_and_reverse_mode():
    torch.manual_seed(0)
    model = build_model("cnn", (1, 8, 8), 3, embed_dim=10).double()
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    for kw in ({}, {"input_fraction": 1.0}, {"feature_fraction": 1.0}):
        ref = per_example_gc(model.embed, x, **kw)
        got = per_example_gc(copy.deepcopy(model).to(CUDA).embed, x.to(CUDA), **kw)
        assert got.device.type == CUDA
        torch.testing.assert_close(got.cpu(), ref)
