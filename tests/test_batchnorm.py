"""BatchNorm recalibration (gcnc.batchnorm): the copy's statistics are the equal-weight average
over the training set's batches (checked against NumPy), the measured model is untouched, and
the logged readings sit beside the plain ones."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from gcnc.batchnorm import recalibrated
from gcnc.metrics.collapse import class_stats, neural_collapse
from gcnc.metrics.snapshot import embed_and_logits
from gcnc.study.data.prepared import Split
from gcnc.study.pretraining.evaluation import measure_step


class Net(nn.Module):
    """BatchNorm right on the input (its statistics are the data's), then an embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 6), nn.ReLU(), nn.BatchNorm1d(6))
        self.head = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _trained() -> Net:
    torch.manual_seed(0)
    net = Net()
    net.train()
    with torch.no_grad():
        for _ in range(5):  # running statistics from a few small noisy batches
            net(torch.randn(3, 4) * 3 + 1)
    return net.eval()


def test_copy_statistics_are_the_training_set_s_and_the_model_is_untouched():
    net = _trained()
    before = copy.deepcopy(net.state_dict())
    x = torch.randn(1000, 4, generator=torch.Generator().manual_seed(1)) * 2 + 0.5
    twin = recalibrated(net, x, batch_size=250)  # four equal batches
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key]), key  # parameters and buffers unchanged
    assert not net.training and not twin.training
    first = twin.embed[0]
    batches = x.numpy().reshape(4, 250, 4)
    np.testing.assert_allclose(first.running_mean, batches.mean(1).mean(0), rtol=1e-5)
    np.testing.assert_allclose(first.running_var, batches.var(1, ddof=1).mean(0), rtol=1e-5)
    assert not torch.allclose(net.embed[0].running_mean, first.running_mean)


def test_no_batch_of_one_and_a_model_without_batchnorm_comes_back_unchanged():
    net = _trained()
    recalibrated(net, torch.randn(257, 4), batch_size=256)  # 257 = 128 + 129: no batch of one
    plain = nn.Sequential(nn.Linear(4, 2))
    twin = recalibrated(plain, torch.randn(10, 4))
    pairs = zip(plain.parameters(), twin.parameters(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_logged_readings_sit_beside_the_plain_ones():
    from gcnc.study.grid import RunSpec

    net = _trained()
    gen = torch.Generator().manual_seed(2)
    x, y = torch.randn(90, 4, generator=gen), torch.arange(90) % 3
    evals = {"train": Split(x[:60], y[:60]), "test": Split(x[60:], y[60:])}
    spec = RunSpec("d", "mlp", "full", 0.1, 8, 0.0, 0.0, 0, 10)
    cfg = {"gc_estimator": "exact", "gc_probes": 1, "bn_recalibration": True}
    rows, _ = measure_step(net, spec, 10, evals, 3, cfg, x)
    twin = recalibrated(net, x)
    feats, logits = embed_and_logits(twin, evals["train"].x)
    expected = neural_collapse(class_stats(feats, evals["train"].y, 3))
    assert rows[0]["nc_bn_recalibrated"] == pytest.approx(expected)
    assert rows[0]["nc"] != pytest.approx(expected)  # the running statistics mattered
    plain, _ = measure_step(net, spec, 10, evals, 3, cfg | {"bn_recalibration": False}, x)
    assert "nc_bn_recalibrated" not in plain[0] and plain[0]["nc"] == rows[0]["nc"]
