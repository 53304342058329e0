"""Measurements are read-only: a logging step (snapshot + path slope) leaves every parameter,
BatchNorm buffer and train/eval flag as it found them, and a training step with the GC regulariser
(App. A.5.6) updates the BatchNorm running statistics exactly once."""

import copy

import pytest
import torch

from gcnc.metrics.slope import path_slope
from gcnc.metrics.snapshot import snapshot
from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.evaluation import seeded_generator
from gcnc.study.pretraining.pretrain import pretrain
from gcnc.study.pretraining.sgd import model_for

K = 4


@pytest.fixture(scope="module", params=["vgg11", "resnet18"])
def trained_model(request) -> torch.nn.Module:
    """A model whose BatchNorm running statistics are away from their initial values."""
    torch.manual_seed(0)
    model = build_model(request.param, (3, 16, 16), K)
    with torch.no_grad():
        model.train()(torch.randn(16, 3, 16, 16) * 2 + 0.5)
    return model


def modes(model: torch.nn.Module) -> dict[str, bool]:
    return {name: m.training for name, m in model.named_modules()}


@pytest.mark.parametrize("start", ["train", "eval", "mixed"])
def test_logging_step_is_read_only(trained_model, start):
    model = copy.deepcopy(trained_model).train(start != "eval")
    if start == "mixed":  # e.g. BatchNorm frozen for fine-tuning, the rest in train mode
        bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for m in bns[::2]:
            m.eval()
    before, flags = copy.deepcopy(model.state_dict()), modes(model)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 16, 16, generator=g), torch.arange(8) % K
    row, _, _ = snapshot(model, x, y, K, estimator="hutchinson", n_probes=2, generator=g)
    slope = path_slope(model, x, y)
    assert slope > 0 and row["gc"] > 0
    after = model.state_dict()
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed
    assert modes(model) == flags
    assert all(p.grad is None for p in model.parameters())


def test_path_slope_is_the_eval_mode_gradient_norm(trained_model):
    model = copy.deepcopy(trained_model).train()
    x, y = torch.randn(8, 3, 16, 16), torch.arange(8) % K
    ref = copy.deepcopy(model).eval()
    ref.zero_grad()
    torch.nn.functional.cross_entropy(ref(x), y).backward()
    expected = sum(float(p.grad.double().pow(2).sum()) for p in ref.parameters())
    assert path_slope(model, x, y) == pytest.approx(expected, rel=1e-9)


def test_training_step_with_gc_penalty_updates_batchnorm_once(digits, config, tmp_path):
    spec = RunSpec(
        dataset="digits", arch="vgg11", task="full", lr=0.01, batch_size=8,
        weight_decay=0.0, gc_reg=0.1, seed=0, steps=1,
    )  # fmt: skip
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["training"]["eval_examples"] = 60  # every class in the evaluation subsets
    preset["metrics"].update(gc_estimator="hutchinson", endpoint_gc_estimator="hutchinson")
    preset["metrics"].update(gc_probes=1)
    pretrain(spec, digits, preset, tmp_path, progress=False)
    final = torch.load(tmp_path / "final.pt", weights_only=True)
    counts = {k: int(v) for k, v in final.items() if k.endswith("num_batches_tracked")}
    assert len(counts) == 8 and set(counts.values()) == {1}
    # the running statistics are those of one train-mode forward pass on the step's minibatch
    torch.manual_seed(spec.seed)
    ref = model_for(spec, digits).train()
    train = digits.view("full", "train")
    generator = seeded_generator(spec.seed, 1)
    idx = torch.randperm(train.x.shape[0], generator=generator)[: spec.batch_size]
    with torch.no_grad():
        ref(train.x[idx])
    for k, v in ref.state_dict().items():
        if "running_" in k:
            assert torch.equal(final[k], v), k
