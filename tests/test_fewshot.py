"""Few-shot episodes, classifiers and confidence intervals."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from gcnc.study.transfer.fewshot import logreg_episodes, mean_ci, ncm_episodes, sample_episodes

CFG = {"ways": [5], "shots": [1, 5], "queries": 7, "episodes": 40, "seed": 11}


def test_episodes_deterministic_and_query_disjoint_from_support():
    labels = np.repeat(np.arange(8), 30)
    a, b = sample_episodes(labels, CFG), sample_episodes(labels, CFG)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    c = sample_episodes(labels, {**CFG, "seed": 12})
    assert not np.array_equal(a["w5_s5_support"], c["w5_s5_support"])
    for shot in (1, 5):
        sup, qry, cls = a[f"w5_s{shot}_support"], a[f"w5_s{shot}_query"], a[f"w5_s{shot}_classes"]
        assert sup.shape == (40, 5, shot) and qry.shape == (40, 5, 7)
        for e in range(40):
            assert not set(sup[e].ravel()) & set(qry[e].ravel())
            for j, c_ in enumerate(cls[e]):  # every index belongs to its episode class
                assert (labels[sup[e, j]] == c_).all() and (labels[qry[e, j]] == c_).all()


def test_too_few_examples_is_a_clear_error():
    with pytest.raises(ValueError, match="needs 5 classes"):
        sample_episodes(np.repeat(np.arange(5), 6), CFG)


def _features(episodes, x, key):
    return x[torch.from_numpy(episodes[f"{key}_support"])], x[
        torch.from_numpy(episodes[f"{key}_query"])
    ]


def test_identity_embedding_on_separated_gaussians_is_near_perfect(gaussians):
    pool = gaussians.view("target", "all")
    eps = sample_episodes(pool.y.numpy(), CFG)
    x = nn.functional.normalize(pool.x, dim=1)
    s, q = _features(eps, x, "w5_s5")
    assert ncm_episodes(s, q).mean() > 0.9
    assert logreg_episodes(s, q).mean() > 0.9


def test_random_labels_stay_at_chance(gaussians):
    pool = gaussians.view("target", "all")
    shuffled = pool.y[torch.randperm(len(pool.y), generator=torch.Generator().manual_seed(0))]
    eps = sample_episodes(shuffled.numpy(), {**CFG, "episodes": 300})
    s, q = _features(eps, pool.x, "w5_s5")
    for acc in (ncm_episodes(s, q), logreg_episodes(s, q)):
        mean, half = mean_ci(acc)
        assert abs(mean - 0.2) < max(half, 0.02) * 1.5


def test_ci_formula():
    acc = torch.tensor([0.2, 0.4, 0.6, 0.8])
    mean, half = mean_ci(acc)
    assert mean == pytest.approx(0.5)
    sd = math.sqrt(sum((a - 0.5) ** 2 for a in (0.2, 0.4, 0.6, 0.8)) / 3)
    assert half == pytest.approx(1.959963984540054 * sd / 2)


def test_logreg_matches_sklearn_on_one_episode():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    support = torch.tensor(rng.normal(size=(1, 3, 4, 6)) + np.arange(3)[None, :, None, None])
    query = torch.tensor(rng.normal(size=(1, 3, 5, 6)) + np.arange(3)[None, :, None, None])
    ours = float(logreg_episodes(support, query, l2=0.05, iters=500))
    # same objective: mean CE + l2 ||W||^2  <=>  sklearn C = 1 / (2 * l2 * n)
    clf = LogisticRegression(C=1 / (2 * 0.05 * 12), max_iter=5000, tol=1e-10)
    clf.fit(support.reshape(12, 6).numpy(), np.repeat(np.arange(3), 4))
    ref = float((clf.predict(query.reshape(15, 6).numpy()) == np.repeat(np.arange(3), 5)).mean())
    assert ours == pytest.approx(ref)


def test_evaluate_transfer_table_with_finetuning(gaussians, tmp_path):
    import pandas as pd

    from gcnc.study.grid import RunSpec
    from gcnc.study.pretraining.sgd import model_for
    from gcnc.study.transfer.fewshot import evaluate_transfer

    spec = RunSpec("gaussians", "mlp", "source", 0.05, 32, 0.0, 0.0, 0, 10)
    torch.manual_seed(0)
    model = model_for(spec, gaussians)
    src = tmp_path / "metrics.csv"
    pd.DataFrame(
        [
            {
                "split": "train",
                "step": 10,
                "gc": 2.0,
                "nc": 0.5,
                "geometric_collapse": 1.0,
                "cdnv_max": 0.9,
            }
        ]
    ).to_csv(src, index=False)
    cfg = {
        **CFG,
        "shots": [5],
        "episodes": 4,
        "classifiers": ["ncm", "logreg"],
        "finetune_steps": 5,
    }
    eps = sample_episodes(gaussians.view("target", "all").y.numpy(), cfg)
    table = evaluate_transfer(
        model, spec, gaussians, eps, cfg, {"gc_estimator": "exact", "gc_probes": 4}, 100, src, "ok"
    )
    assert sorted(table.classifier) == ["finetune", "logreg", "ncm"]
    assert table.accuracy.between(0, 1).all() and (table.episodes == 4).all()
    assert (table.source_gc == 2.0).all() and (table.target_nc > 0).all()
    assert table.target_geometric_collapse.gt(0).all()
