"""Every bad input of a public measurement raises an error naming the argument (TESTING.md,
"Bad inputs to the measurements"), and the nearest-class-mean classifier agrees with brute force
where torch.cdist's Gram form loses precision."""

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import gcnc
from gcnc.metrics import (
    class_stats,
    embedding_gc,
    gc_penalty,
    geometric_collapse,
    nc1,
    nc3,
    nc4,
    ncm_accuracy,
    ncm_predict,
    neural_collapse,
    numerical_rank,
    stable_rank,
)
from gcnc.models import build_model
from gcnc.study.transfer.fewshot import ncm_episodes

G = torch.Generator().manual_seed(0)
F = torch.randn(30, 4, generator=G)
Y = torch.arange(30) % 3
NAN = F.clone()
NAN[5, 1] = float("nan")
LIN = nn.Linear(4, 2)
X = torch.randn(30, 4, generator=G)
torch.manual_seed(0)
MLP = build_model("mlp", (4,), 3, embed_dim=3, width=5)

CASES = {
    # labels
    "float labels": (lambda: nc1(F, Y + 0.9), TypeError, "labels: expected integer class"),
    "float labels (whole)": (lambda: neural_collapse(F, Y.float()), TypeError, "labels: "),
    "bool labels": (lambda: neural_collapse(F, Y > 0), TypeError, "labels: .* dtype torch.bool"),
    "negative label": (lambda: neural_collapse(F, Y - 1), ValueError, "labels: negative class"),
    "label out of range": (
        lambda: class_stats(F, Y, n_classes=2),
        ValueError,
        "labels: class index 2 is out of range for n_classes=2",
    ),
    "length mismatch": (lambda: nc1(F, Y[:-1]), ValueError, "labels: 29 labels for 30 rows"),
    "2-D labels": (lambda: stable_rank(F, Y[:, None]), ValueError, "labels: expected a 1-D"),
    "empty class": (lambda: neural_collapse(F, Y * 2), ValueError, r"labels: classes \[1, 3\]"),
    "one class": (lambda: nc1(F, Y * 0), ValueError, "labels: .* at least two classes"),
    "labels out of range for the means": (
        lambda: ncm_accuracy(F, Y + 1, class_stats(F, Y).means),
        ValueError,
        "labels: class index 3 is out of range",
    ),
    # features
    "4-D features": (
        lambda: neural_collapse(F.view(30, 1, 2, 2), Y),
        ValueError,
        r"features: expected a 2-D .* shape \(30, 1, 2, 2\)",
    ),
    "4-D features, rank": (lambda: numerical_rank(F.view(30, 4, 1, 1)), ValueError, "features: "),
    "NaN features, NC1": (
        lambda: nc1(NAN, Y),
        ValueError,
        "features: 1 non-finite value .* in row 5 at index \\(5, ",
    ),
    "NaN features, NC": (lambda: neural_collapse(NAN, Y), ValueError, "features: 1 non-finite"),
    "integer features": (lambda: neural_collapse(Y[:, None] * 1, Y), TypeError, "features: "),
    "a list": (lambda: neural_collapse(F.tolist(), Y), TypeError, "features: .* got list"),
    "NaN gc": (lambda: geometric_collapse(float("nan"), F, Y), ValueError, "gc: expected a"),
    "head weight shape": (
        lambda: nc3(F, Y, torch.randn(10, 4)),
        ValueError,
        r"head_weight: shape \(10, 4\), expected .* \(3, 4\)",
    ),
    "means width": (lambda: ncm_predict(F, torch.zeros(3, 5)), ValueError, "means: 5 features"),
    "logits shape": (
        lambda: nc4(F, torch.zeros(30, 5), torch.zeros(3, 4)),
        ValueError,
        r"logits: shape \(30, 5\)",
    ),
    # GC
    "embedding output not 2-D": (
        lambda: embedding_gc(nn.Unflatten(1, (2, 2)), X),
        ValueError,
        r"embed: output has shape \(1, 2, 2\)",
    ),
    "n_probes 0": (
        lambda: embedding_gc(LIN, X, "hutchinson", n_probes=0),
        ValueError,
        "n_probes: expected a positive integer, got 0",
    ),
    "n_probes 0, penalty": (lambda: gc_penalty(LIN, X, n_probes=0), ValueError, "n_probes: "),
    "feature_fraction 0": (
        lambda: embedding_gc(LIN, X, feature_fraction=0.0),
        ValueError,
        "feature_fraction: expected a fraction",
    ),
    "NumPy float64 for a float32 net": (
        lambda: embedding_gc(LIN, X.double().numpy()),
        TypeError,
        "x: dtype torch.float64, but the network computes in torch.float32",
    ),
    "NaN inputs": (lambda: embedding_gc(LIN, NAN), ValueError, "x: 1 non-finite"),
    "integer inputs": (lambda: embedding_gc(LIN, Y[:, None]), TypeError, "x: expected floating"),
    # gcnc.measure
    "measure: float labels": (lambda: gcnc.measure(MLP, X, Y + 0.9), TypeError, "labels: "),
    "measure: length": (lambda: gcnc.measure(MLP, X, Y[:-1]), ValueError, "29 labels for 30 rows"),
    "measure: negative": (lambda: gcnc.measure(MLP, X, Y - 1), ValueError, "labels: negative"),
    "measure: n_classes": (
        lambda: gcnc.measure(MLP, X, Y, n_classes=2),
        ValueError,
        "labels: class index 2 is out of range for n_classes=2",
    ),
    "measure: NaN data": (lambda: gcnc.measure(MLP, NAN, Y), ValueError, "data: 1 non-finite"),
    "measure: uint8 data": (
        lambda: gcnc.measure(MLP, (X * 10).to(torch.uint8), Y),
        TypeError,
        "data: expected floating-point inputs",
    ),
    "measure: n_probes 0": (lambda: gcnc.measure(MLP, X, Y, n_probes=0), ValueError, "n_probes: "),
    "measure: estimator": (
        lambda: gcnc.measure(MLP, X, Y, estimator="magic"),
        ValueError,
        "estimator: 'magic'",
    ),
    "measure: no labels": (lambda: gcnc.measure(MLP, X), ValueError, "labels: required"),
    "measure: labels twice": (
        lambda: gcnc.measure(MLP, TensorDataset(X, Y), Y),
        ValueError,
        "labels: give them only with a tensor",
    ),
    "measure: iterator": (
        lambda: gcnc.measure(MLP, iter([(X, Y)])),
        TypeError,
        "data: a one-shot iterator",
    ),
    "measure: batches not pairs": (lambda: gcnc.measure(MLP, [X]), TypeError, "data: batch 0"),
    "measure: a number": (lambda: gcnc.measure(MLP, 3.0), TypeError, "data: expected a tensor"),
    "measure: no final Linear": (
        lambda: gcnc.measure(MLP.embed, X, Y),
        ValueError,
        r"model: the network's output \(2, 3\) is computed after its last nn.Linear, '3' .* "
        "or embed=model when the model is the embedding itself",
    ),
    "measure: unknown layer": (
        lambda: gcnc.measure(MLP, X, Y, embed="body"),
        ValueError,
        "embed: the model has no layer named 'body'",
    ),
    "measure: 4-D embedding": (
        lambda: gcnc.measure(MLP, X, Y, embed=lambda x: x.view(30, 2, 2, 1)),
        ValueError,
        r"embed \(.*\(callable\)\): output has shape \(30, 2, 2, 1\)",
    ),
    "measure: head without callable": (
        lambda: gcnc.measure(MLP, X, Y, head=MLP.head),
        ValueError,
        "head: give it only with an embedding callable",
    ),
    "measure: gc_examples 0": (
        lambda: gcnc.measure(MLP, X, Y, gc_examples=0),
        ValueError,
        "gc_examples: expected a positive integer",
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_input_is_an_error_naming_the_argument(case):
    run, error, message = CASES[case]
    with pytest.raises(error, match=message):
        run()


def test_numpy_arrays_are_converted():
    assert neural_collapse(F.numpy(), Y.numpy()) == neural_collapse(F, Y)
    assert embedding_gc(LIN, X.numpy()) == embedding_gc(LIN, X)
    assert gcnc.measure(MLP, X.double().numpy(), Y.numpy()) == gcnc.measure(MLP, X, Y)


def brute_force_ncm(f: np.ndarray, means: np.ndarray) -> np.ndarray:
    """argmin_c sum_j (f_j - mu_cj)^2, one example and one class at a time."""
    return np.array([min(range(len(means)), key=lambda c: ((x - means[c]) ** 2).sum()) for x in f])


def test_ncm_agrees_with_brute_force_far_from_the_origin():
    """Offset / spread 1e8 in float64, 60 rows (cdist's Gram form above 25 rows gave accuracy
    0.26 in the issue's case, 0.83 here)."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 5
    f = 1e8 + 3 * rng.normal(size=(5, 8))[y] + 0.3 * rng.normal(size=(60, 8))
    means = np.stack([f[y == c].mean(0) for c in range(5)])
    expected = brute_force_ncm(f, means)
    assert (expected == y).all()
    assert (ncm_predict(torch.tensor(f), torch.tensor(means)).numpy() == expected).all()
    assert ncm_accuracy(f, y, means) == 1.0
    gram = torch.cdist(torch.tensor(f), torch.tensor(means)).argmin(1).numpy()
    assert (gram != expected).any()  # what ncm_predict did before


def test_few_shot_ncm_agrees_with_brute_force_at_small_angular_spread():
    """60 episodes, 5-way 5-shot, 15 queries, float32 unit features whose classes differ by
    angles of about 1e-4; brute force on the same float32 features in float64."""
    rng = np.random.default_rng(0)
    base, dirs = rng.normal(size=64), rng.normal(size=(60, 5, 1, 64))

    def unit(shots: int) -> torch.Tensor:
        f = base + 1e-4 * dirs + 1e-5 * rng.normal(size=(60, 5, shots, 64))
        return nn.functional.normalize(torch.tensor(f, dtype=torch.float32), dim=-1)

    support, query = unit(5), unit(15)
    means = support.double().mean(2).numpy()
    q = query.double().numpy()
    truth = np.repeat(np.arange(5), 15)
    expected = [
        (brute_force_ncm(q[e].reshape(75, 64), means[e]) == truth).mean() for e in range(60)
    ]
    np.testing.assert_array_equal(ncm_episodes(support, query).numpy(), expected)
