"""CDNV / NC / NC1-NC4 against brute-force NumPy written from the formulas."""

import itertools
import math

import numpy as np
import pytest
import torch

from gcnc.metrics import (
    cdnv,
    embedding_gc,
    geometric_collapse,
    nc1,
    nc2,
    nc3,
    nc4,
    ncm_accuracy,
    neural_collapse,
    numerical_rank,
)
from gcnc.metrics.collapse import class_stats, metric_status
from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.pretrain import pretrain


def brute(f: np.ndarray, y: np.ndarray):
    k = y.max() + 1
    mus = np.array([f[y == c].mean(0) for c in range(k)])
    var = np.array([((f[y == c] - mus[c]) ** 2).sum(1).mean() for c in range(k)])
    v = np.full((k, k), np.nan)
    for i, j in itertools.permutations(range(k), 2):
        v[i, j] = (var[i] + var[j]) / (2 * ((mus[i] - mus[j]) ** 2).sum())
    nc = np.mean([v[i, j] for i, j in itertools.permutations(range(k), 2)])
    inv = sum(1 / ((mus[i] - mus[j]) ** 2).sum() for i, j in itertools.permutations(range(k), 2))
    mg = mus.mean(0)
    sw = sum(np.outer(x - mus[c], x - mus[c]) for x, c in zip(f, y, strict=True)) / len(f)
    sb = sum(np.outer(m - mg, m - mg) for m in mus) / k
    return v, nc, inv, np.trace(sw @ np.linalg.pinv(sb)) / k


@pytest.fixture
def sample():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [5, 7, 6, 9])
    f = rng.normal(size=(len(y), 6)) + 3 * rng.normal(size=(4, 6))[y]
    return f, y


def test_matches_brute_force(sample):
    f, y = sample
    v, nc, inv, n1 = brute(f, y)
    ft, yt = torch.tensor(f), torch.tensor(y)
    np.testing.assert_allclose(cdnv(ft, yt).numpy(), v, rtol=1e-10)
    assert neural_collapse(ft, yt) == pytest.approx(nc, rel=1e-10)
    assert geometric_collapse(2.5, ft, yt) == pytest.approx(2.5 / 3 * inv, rel=1e-10)
    assert nc1(ft, yt) == pytest.approx(n1, rel=1e-8)


def test_label_permutation_changes_nothing(sample):
    f, y = sample
    perm = np.array([2, 0, 3, 1])
    ft = torch.tensor(f)
    a, b = torch.tensor(y), torch.tensor(perm[y])
    assert neural_collapse(ft, a) == pytest.approx(neural_collapse(ft, b))
    assert nc1(ft, a) == pytest.approx(nc1(ft, b))
    assert nc2(ft, a) == pytest.approx(nc2(ft, b))


def simplex_etf(k: int, p: int) -> torch.Tensor:
    m = torch.eye(k) - 1.0 / k
    q, _ = torch.linalg.qr(torch.randn(p, k, dtype=torch.float64))
    return (q @ m.double()).T * 5.0  # k x p, equinorm and equiangular


def test_perfect_collapse_is_zero():
    torch.manual_seed(0)
    k = 5
    means = simplex_etf(k, 8)
    y = torch.arange(k).repeat_interleave(4)
    f = means[y]
    assert neural_collapse(f, y) == 0.0 and nc1(f, y) == pytest.approx(0.0, abs=1e-12)
    equinorm, equiangle = nc2(f, y)
    assert equinorm == pytest.approx(0, abs=1e-12) and equiangle == pytest.approx(0, abs=1e-12)
    assert nc3(f, y, means) == pytest.approx(0, abs=1e-12)  # classifier = class means
    logits = f @ means.T
    assert nc4(f, logits, means) == 0.0 and ncm_accuracy(f, y, means) == 1.0
    assert numerical_rank(f) == k - 1


def test_single_and_empty_classes_raise():
    f = torch.randn(6, 3)
    with pytest.raises(ValueError, match="at least two classes"):
        neural_collapse(f, torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match=r"classes \[1\] have no examples"):
        class_stats(f, torch.tensor([0, 0, 2, 2, 0, 2]))


def _prop41_holds(model, x, y, c):
    """NC <= c * GCol, on population-like samples (the bound, Prop. 4.1)."""
    with torch.no_grad():
        f = model.embed.eval()(x)
    gc = embedding_gc(model.embed, x)
    return neural_collapse(f, y), c * geometric_collapse(gc, f, y)


def test_prop41_holds_on_gaussians_random_and_trained(gaussians, config, tmp_path):
    c = max(gaussians.meta["poincare_constants"].values())
    x, y = gaussians.train.x, gaussians.train.y
    for seed in range(3):
        torch.manual_seed(seed)
        model = build_model("mlp", (4,), 10)
        lhs, rhs = _prop41_holds(model, x, y, c)
        assert lhs <= rhs
    spec = RunSpec("gaussians", "mlp", "full", 0.05, 64, 0.0, 0.0, 0, 150)
    preset = config["presets"]["smoke"]
    pretrain(spec, gaussians, preset, tmp_path, progress=False)
    model = build_model("mlp", (4,), 10)
    model.load_state_dict(torch.load(tmp_path / "final.pt", weights_only=True))
    lhs, rhs = _prop41_holds(model, x, y, c)
    assert lhs <= rhs


def test_far_means_match_brute_force_from_differences():
    """26 class means at 1e4 + 1e-4 N(0, 1): a Gram-matrix distance (torch.cdist above 25 rows)
    cancels to 0 and NC becomes inf; distances from differences match brute force."""
    rng = np.random.default_rng(1)
    k, p, n = 26, 8, 6
    y = np.repeat(np.arange(k), n)
    f = 1e4 + 1e-4 * rng.normal(size=(k, p))[y] + 1e-5 * rng.normal(size=(len(y), p))
    _, nc, inv, _ = brute(f, y)
    ft, yt = torch.tensor(f), torch.tensor(y)
    means = class_stats(ft, yt).means
    gram = torch.cdist(means, means).pow(2)  # what the metrics used to do: 0 for most pairs
    assert (gram[~torch.eye(k, dtype=torch.bool)] == 0).any()
    assert np.isfinite(nc) and neural_collapse(ft, yt) == pytest.approx(nc, rel=1e-6)
    assert geometric_collapse(1.0, ft, yt) == pytest.approx(inv / (k - 1), rel=1e-6)
    assert metric_status(class_stats(ft, yt)) == "ok"


def test_degenerate_geometry_is_kept_and_flagged():
    f = torch.tensor([[0.0, 0.0], [0.2, 0.0], [1.0, 1.0], [1.2, 1.0], [1.2, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 0, 1, 1, 2, 2])  # classes 1 and 2 share their mean
    s = class_stats(f, y)
    assert math.isinf(neural_collapse(s)) and math.isinf(geometric_collapse(0.5, s))
    assert metric_status(s) == "coincident_means"
    g = torch.tensor([[-1.0, 0.0], [-1.0, 0.2], [1.0, 0.0], [1.0, 0.2], [0.0, 0.1], [0.0, 0.1]])
    s = class_stats(g, y)  # class 2's mean is the global mean: its centred mean is zero
    equinorm, equiangle = nc2(s)
    assert math.isfinite(equinorm) and math.isnan(equiangle)
    assert math.isfinite(neural_collapse(s)) and metric_status(s) == "zero_centred_mean"
    both = class_stats(torch.tensor([[0.0], [0.0], [0.0], [0.0]]), torch.tensor([0, 0, 1, 1]))
    assert metric_status(both) == "coincident_means+zero_centred_mean"
    with pytest.raises(ValueError, match=r"features: 1 non-finite value .* row 0 at index \(0, 0"):
        class_stats(torch.tensor([[float("nan")], [0.0], [1.0]]), torch.tensor([0, 1, 1]))
    big = torch.tensor([[1e200], [-1e200], [0.0]], dtype=torch.float64)
    huge = class_stats(big, torch.tensor([0, 0, 1]))  # squares overflow float64
    assert math.isinf(huge.variances[0]) and metric_status(huge) == "non_finite_features"


def test_snapshot_rows_carry_the_metric_status():
    from gcnc.metrics.snapshot import snapshot

    torch.manual_seed(0)
    model = build_model("mlp", (4,), 3, embed_dim=4, width=8)
    x, y = torch.randn(12, 4), torch.arange(12) % 3
    row, _, _ = snapshot(model, x, y, 3, estimator="exact")
    assert row["metric_status"] == "ok"
    with torch.no_grad():  # a dead embedding: every example at 0, every class mean equal
        model.embed[3].weight.zero_()
        model.embed[3].bias.zero_()
    row, _, _ = snapshot(model, x, y, 3, estimator="exact")
    assert row["metric_status"] == "coincident_means+zero_centred_mean"
    assert not math.isfinite(row["nc"]) and math.isnan(row["nc2_equiangle"])
