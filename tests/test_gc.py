"""Embedding GC against closed forms and an independent finite-difference Jacobian."""

import numpy as np
import pytest
import torch
from torch import nn

from gcnc.metrics import embedding_gc, gc_penalty, per_example_gc
from gcnc.metrics.draws import example_keys
from gcnc.metrics.gc import _forward_sq_norms, _reverse_sq_norms, default_vjp_batch
from gcnc.models import build_model


@torch.no_grad()
def finite_difference_gc(f, x: torch.Tensor, h: float = 1e-6) -> np.ndarray:
    """||J_f(x_i)||_F^2 per example by central differences in float64 (independent of autograd)."""
    x = x.double()
    out = []
    for xi in x:
        flat = xi.flatten()
        total = 0.0
        for b in range(flat.numel()):
            e = torch.zeros_like(flat)
            e[b] = h
            col = (f((flat + e).view_as(xi)[None]) - f((flat - e).view_as(xi)[None])) / (2 * h)
            total += float(col.pow(2).sum())
        out.append(total)
    return np.array(out)


def test_linear_map_gc_is_frobenius_norm_squared():
    torch.manual_seed(0)
    for d, p in ((7, 5), (3, 9)):  # reverse mode and forward mode
        lin = nn.Linear(d, p)
        x = torch.randn(11, d)
        assert embedding_gc(lin, x) == pytest.approx(
            float(lin.weight.detach().pow(2).sum()), rel=1e-6
        )


@pytest.mark.parametrize("arch, shape", [("mlp", (6,)), ("cnn", (1, 8, 8))])
def test_gc_matches_finite_differences(arch, shape):
    torch.manual_seed(1)
    model = build_model(arch, shape, 4, embed_dim=5).double().eval()
    x = torch.randn(3, *shape, dtype=torch.float64)
    exact = per_example_gc(model.embed, x).numpy()
    np.testing.assert_allclose(exact, finite_difference_gc(model.embed, x), rtol=1e-5)


@pytest.mark.parametrize("vjp_batch", [1, 4, 10])  # one per pass, padded last pass, all at once
def test_forward_and_reverse_modes_agree(vjp_batch):
    torch.manual_seed(2)
    model = build_model("cnn", (1, 8, 8), 3, embed_dim=10).double().eval()
    x = torch.randn(5, 1, 8, 8, dtype=torch.float64)
    rev = _reverse_sq_norms(model.embed, x, torch.arange(10).expand(5, 10), vjp_batch)
    fwd = _forward_sq_norms(model.embed, x, torch.arange(64).expand(5, 64))
    torch.testing.assert_close(rev, fwd)


def test_batched_hutchinson_probes_match_one_probe_per_pass():
    torch.manual_seed(3)
    model = build_model("cnn", (1, 8, 8), 3, embed_dim=12).double()
    x = torch.randn(6, 1, 8, 8, dtype=torch.float64)
    runs = [
        per_example_gc(
            model.embed,
            x,
            "hutchinson",
            n_probes=7,
            vjp_batch=b,
            generator=torch.Generator().manual_seed(4),
        )
        for b in (1, 3)
    ]
    torch.testing.assert_close(runs[0], runs[1])
    with pytest.raises(ValueError, match="vjp_batch"):
        per_example_gc(model.embed, x, vjp_batch=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_stacked_copies_match_float64_on_the_cpu():
    torch.manual_seed(5)
    model = build_model("resnet18", (3, 32, 32), 3)
    x = torch.randn(6, 3, 32, 32)
    gpu = model.embed.cuda().eval()
    assert default_vjp_batch(gpu, x.cuda()) > 1
    got = per_example_gc(gpu, x.cuda()).cpu()
    expected = per_example_gc(model.embed.cpu().double(), x.double())
    torch.testing.assert_close(got, expected, rtol=5e-3, atol=0)  # TF32 convolutions on the GPU


def test_batchnorm_measured_in_eval_mode_and_mode_restored():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU())
    net(torch.randn(64, 4) * 3 + 1)  # update running statistics
    net.train()
    x = torch.randn(8, 4)
    single = [embedding_gc(net, x[i : i + 1]) for i in range(8)]  # one example at a time
    assert embedding_gc(net, x) == pytest.approx(np.mean(single), rel=1e-6)
    assert net.training


@pytest.mark.parametrize(
    "kwargs",
    [
        {"estimator": "hutchinson", "n_probes": 2},
        {"feature_fraction": 0.25},
        {"input_fraction": 0.25},
        {"n_examples": 10},
    ],
)
def test_estimators_are_unbiased(kwargs):
    torch.manual_seed(4)
    model = build_model("mlp", (16,), 3, embed_dim=8, width=32).eval()
    x = torch.randn(40, 16)
    exact = embedding_gc(model.embed, x)
    draws = np.array(
        [
            embedding_gc(model.embed, x, generator=torch.Generator().manual_seed(s), **kwargs)
            for s in range(300)
        ]
    )
    se = draws.std(ddof=1) / np.sqrt(len(draws))
    assert abs(draws.mean() - exact) < 4 * se + 1e-9 * exact
    assert draws.std() > 0  # the draws really are random


def test_gc_penalty_is_differentiable_and_unbiased():
    torch.manual_seed(5)
    model = build_model("mlp", (5,), 3, embed_dim=4, width=8)
    x = torch.randn(20, 5)
    draws = (gc_penalty(model.embed, x, 1, torch.Generator().manual_seed(s)) for s in range(400))
    vals = [draw.detach().item() for draw in draws]
    exact = embedding_gc(model.embed, x)
    assert np.mean(vals) == pytest.approx(exact, rel=0.1)
    pen = gc_penalty(model.embed, x, 4)
    pen.backward()
    grad = model.embed[1].weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_bad_estimator_arguments():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match="unknown GC estimator"):
        embedding_gc(lin, torch.randn(2, 3), "magic")
    with pytest.raises(ValueError, match="exact estimator only"):
        embedding_gc(lin, torch.randn(2, 3), "hutchinson", feature_fraction=0.5)


def test_per_feature_gc_columns_are_single_feature_gcs():
    from gcnc.metrics.gc import per_feature_gc

    torch.manual_seed(6)
    for shape, p in (((1, 8, 8), 12), ((3,), 9)):  # reverse mode, forward mode
        model = build_model("mlp", shape, 2, embed_dim=p, width=10).double().eval()
        x = torch.randn(4, *shape, dtype=torch.float64)
        m = per_feature_gc(model.embed, x)
        torch.testing.assert_close(m.sum(1), per_example_gc(model.embed, x))
        for a in (0, p - 1):
            single = nn.Sequential(model.embed, nn.Flatten(), SelectFeature(a))
            torch.testing.assert_close(
                m[:, a].numpy(),
                finite_difference_gc(single, x),
                rtol=1e-5,
                atol=1e-12,
                check_dtype=False,
            )


class SelectFeature(nn.Module):
    def __init__(self, a: int) -> None:
        super().__init__()
        self.a = a

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return f[:, self.a : self.a + 1]


@pytest.mark.parametrize("axis", ["feature_fraction", "input_fraction"])
def test_sampled_coordinates_are_uniform_per_example_and_tile_the_batch(axis):
    """Sampling design of the feature / Jacobian-entry axes, on a linear map f(x) = W x.

    There every example has the same coordinate terms g_1..g_m (squared row norms of W for
    features, column norms for entries). Each example keeps a uniform k-subset scaled by m/k:
    its estimate has mean sum(g) and variance m^2 s^2 (m - k) / (k (m - 1)) (s^2 the population
    variance of the g). The subsets of a batch tile one permutation, so when n k is a multiple
    of m every coordinate is kept equally often and the batch mean is exact.
    """
    torch.manual_seed(8)
    lin = nn.Linear(6, 8, bias=False)
    with torch.no_grad():
        lin.weight.mul_(torch.linspace(0.1, 3.0, 8)[:, None] * torch.linspace(0.2, 2.0, 6))
    g = lin.weight.detach().double().pow(2)
    g = g.sum(1) if axis == "feature_fraction" else g.sum(0)
    m, k = len(g), 2
    x = torch.randn(5, 6)
    draws = torch.stack(
        [
            per_example_gc(lin, x, generator=torch.Generator().manual_seed(s), **{axis: k / m})
            for s in range(2000)
        ]
    )  # (draws, examples)
    expected_var = m**2 * g.var(unbiased=False) * (m - k) / (k * (m - 1))
    se = (expected_var / len(draws)) ** 0.5
    assert (draws.mean(0) - g.sum()).abs().max() < 4 * se
    torch.testing.assert_close(draws.var(0), expected_var.expand(5), rtol=0.15, atol=0.0)
    tiled = [
        embedding_gc(
            lin, torch.randn(12, 6), generator=torch.Generator().manual_seed(s), **{axis: k / m}
        )
        for s in range(5)
    ]  # 12 * 2 = 24 is a multiple of m = 8 and of m = 6
    np.testing.assert_allclose(tiled, float(g.sum()), rtol=1e-5)


def test_keyed_probes_do_not_depend_on_the_chunk_or_the_other_rows():
    """Probes drawn from each row's key (example_keys): chunks of 1, 4 or all rows, or the row
    alone, give the same per-example value; over 300 seeds the mean is the exact GC; the
    products reported for progress add up to rows x probes."""
    torch.manual_seed(6)
    model = build_model("mlp", (16,), 3, embed_dim=8, width=32).double().eval()
    x = torch.randn(9, 16, dtype=torch.float64)
    keys = example_keys(x, 0, "probes")
    done = []
    runs = [
        per_example_gc(
            model.embed, x, "hutchinson", n_probes=3, probe_keys=keys, chunk_size=c,
            on_products=done.append,
        )
        for c in (1, 4, 9)
    ]  # fmt: skip
    torch.testing.assert_close(runs[0], runs[1], rtol=1e-12, atol=0)
    torch.testing.assert_close(runs[0], runs[2], rtol=1e-12, atol=0)
    alone = per_example_gc(model.embed, x[4:5], "hutchinson", n_probes=3, probe_keys=keys[4:5])
    assert float(alone) == pytest.approx(float(runs[0][4]), rel=1e-12)
    assert sum(done) == 3 * 9 * 3
    assert example_keys(x[4:5], 0, "probes") == keys[4:5] != example_keys(x[4:5], 1, "probes")
    exact = per_example_gc(model.embed, x).mean()
    draws = np.array([
        float(per_example_gc(
            model.embed, x, "hutchinson", n_probes=1, probe_keys=example_keys(x, s, "probes")
        ).mean())
        for s in range(300)
    ])  # fmt: skip
    assert abs(draws.mean() - float(exact)) < 4 * draws.std(ddof=1) / np.sqrt(len(draws))
    with pytest.raises(ValueError, match="probe_keys: 2 keys for 9 rows of x"):
        per_example_gc(model.embed, x, "hutchinson", probe_keys=keys[:2])
