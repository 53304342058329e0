"""Poincare-constant estimators on distributions whose constants are known exactly."""

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from gcnc.study.data import load_prepared
from gcnc.study.theory.estimators import (
    _top_axis,
    linear_split,
    ritz_estimate,
    sample_lambda_max,
    variance_lower_bound,
)
from gcnc.study.theory.poincare import data_estimates, network_estimates


@pytest.mark.parametrize("name", ["gaussians", "uniform_boxes"])
def test_estimators_against_true_constants(prepared_dir, config, name):
    n = config["presets"]["quick"]["poincare"]["max_samples"]
    rows = pd.DataFrame(data_estimates(name, prepared_dir / name, n))
    per_class = rows[rows["class"].str.isdigit()]
    lower = rows[rows.kind == "lower_bound"]
    assert set(lower.method) == {"linear_test_functions"} and (lower.confidence == 0.95).all()
    assert set(lower["class"]) == {*per_class["class"], "max", "mixture"}
    assert (lower.estimate < lower.point).all()
    # each per-class bound is a 95% lower confidence bound (tests/test_poincare_coverage.py); the
    # boxes' linear target lambda_max(Cov) = (pi^2 / 12) c sits 18% below c, so only the 10
    # Gaussian classes can miss: 3 or more misses has probability 1.5% under 95% coverage
    lower = lower[lower["class"].str.isdigit()]
    assert (lower.estimate > lower.true_value).sum() <= 2
    # and not absurdly conservative at 1000 points per class: within 25% of c (Gaussians: the
    # bound is ~ (1 - 1.645 sqrt(2 / 500)) lambda_max = 0.9 c; boxes: 0.9 * 0.82 c)
    assert (lower.estimate > 0.6 * lower.true_value).all()
    # the point lambda_max of the sample covariance: by Weyl's inequality
    # |lambda_max(S) - lambda_max(Sigma)| <= ||S - Sigma||, and ||S - Sigma|| concentrates at about
    # 2 ||Sigma|| sqrt(d / n) (Vershynin, HDP Thm 4.7.1); we allow 3 sqrt(d / n) relative error.
    d = config["datasets"][name]["dim"]
    assert (lower.point <= lower.true_value * (1 + 3 * np.sqrt(d / n))).all()
    ritz = per_class[per_class.method == "ritz_polynomial"]
    assert (ritz.kind == "restricted_estimate").all()
    rel = (ritz.estimate / ritz.true_value).to_numpy()
    assert np.all(np.abs(rel - 1) < 0.2), rel  # the Ritz estimate within 20% here (issue 4)


def test_linear_bound_is_exact_for_gaussians_and_loose_for_boxes():
    rng = np.random.default_rng(0)
    cov = np.diag([2.0, 0.5, 0.1])
    x = rng.multivariate_normal(np.zeros(3), cov, size=20000)
    assert sample_lambda_max(x) == pytest.approx(2.0, rel=0.03)
    # 10,000 held-out projections: the bound is within 1.645 sqrt(2 / 10^4) = 2.3% (+ noise)
    bound = variance_lower_bound(linear_split(x)[1])
    assert 2.0 * 0.95 < bound < 2.0
    box = rng.random((20000, 2)) * 3.0  # side 3: c = 9 / pi^2; linear gives 9 / 12
    assert sample_lambda_max(box) == pytest.approx(9 / 12, rel=0.03)
    assert ritz_estimate(box) == pytest.approx(9 / np.pi**2, rel=0.05)


def test_top_axis_gram_path_matches_the_covariance():
    """More dimensions than examples: the n x n Gram route gives the covariance's top pair."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 80)) * np.linspace(3, 0.1, 80)
    lam, w = _top_axis(x)
    xc = x - x.mean(0)
    vals, vecs = np.linalg.eigh(xc.T @ xc / len(x))
    assert lam == pytest.approx(vals[-1], rel=1e-10)
    assert abs(w @ vecs[:, -1]) == pytest.approx(1.0, abs=1e-8)


def test_variance_lower_bound_closed_forms():
    """Never above the chi-square bound (n-1) s^2 / chi2_{0.95, n-1}, and within a few percent of
    it for normal z (Bonett's bound agrees there); too few points give NaN, a constant 0."""
    z = np.random.default_rng(2).standard_normal(400)
    chi2 = 399 * z.var(ddof=1) / scipy.stats.chi2.ppf(0.95, 399)
    assert variance_lower_bound(z) <= chi2 + 1e-12
    assert variance_lower_bound(z) == pytest.approx(chi2, rel=0.03)
    assert np.isnan(variance_lower_bound(z[:9]))
    assert variance_lower_bound(np.ones(50)) == 0.0
    assert np.isnan(linear_split(np.ones((19, 3)))[0])


def test_network_estimates_use_train_rows_with_exact_gc():
    """Estimator 1 (max NC / GCol, "the paper's c") reads every run's train rows after its
    initialisation; estimator 2 (per class) only full-task runs, whose class labels are the
    dataset's. The initialisation (each run's first logged step; NC 1000, GCol 1 here) never
    enters, exact GC or not."""
    metrics = pd.DataFrame(
        {
            "run_id": ["a", "a", "b", "a", "a", "b"],
            "step": [10, 10, 10, 5, 0, 0],
            "dataset": "d",
            "task": ["full", "full", "source", "full", "full", "source"],
            "split": ["train", "test", "train", "train", "train", "train"],
            "gc_estimator": ["exact", "exact", "exact", "hutchinson", "exact", "exact"],
            "nc": [1.0, 50.0, 90.0, 70.0, 1000.0, 1000.0],
            "geometric_collapse": [4.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    classes = pd.DataFrame(
        {
            "run_id": ["a", "a", "a", "b", "a", "a"],
            "step": [10, 10, 10, 10, 5, 0],
            "split": ["train", "train", "test", "train", "train", "train"],
            "class": [0, 1, 1, 0, 1, 1],
            "variance": [2.0, 3.0, 30.0, 100.0, 70.0, 900.0],
            "gc": [4.0, 2.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    rows = pd.DataFrame(network_estimates(metrics, classes)).set_index(["method", "class"])
    assert (rows.kind == "sample_ratio").all() and (rows.point == rows.estimate).all()
    assert rows.loc[("paper_nc_over_gcol", "max"), "estimate"] == 90.0  # b's 90 / 1
    assert rows.loc[("network_test_functions", "0"), "estimate"] == 0.5  # not b's 100 / 1
    assert rows.loc[("network_test_functions", "1"), "estimate"] == 1.5
    # a preset that never logs exact GC keeps its Hutchinson checkpoints
    metrics["gc_estimator"] = "hutchinson"
    rows = pd.DataFrame(network_estimates(metrics, classes)).set_index(["method", "class"])
    assert rows.loc[("network_test_functions", "1"), "estimate"] == 70.0
    # a diverged run and a checkpoint with coinciding class means are left out
    runs = pd.DataFrame({"run_id": ["a", "b"], "status": ["ok", "diverged"]})
    metrics["gc_estimator"] = ["exact", "exact", "exact", "hutchinson", "exact", "exact"]
    metrics["metric_status"] = "ok"
    rows = pd.DataFrame(network_estimates(metrics, classes, runs)).set_index(["method", "class"])
    assert rows.loc[("paper_nc_over_gcol", "max"), "estimate"] == 0.25
    runs["status"] = ["diverged", "ok"]
    only_b = network_estimates(metrics, classes, runs)  # run b is a source-task run
    assert [(r["method"], r["estimate"]) for r in only_b] == [("paper_nc_over_gcol", 90.0)]
    assert only_b[0]["checkpoints"].startswith("max over 1 training-set checkpoints of 1 runs")
    metrics.loc[[0, 2], "metric_status"] = "coincident_means"
    assert network_estimates(metrics, classes) == []


def test_prepared_constants_are_what_the_estimators_target(prepared_dir):
    meta = load_prepared(prepared_dir / "uniform_boxes").meta
    assert set(meta["poincare_constants"]) == {str(c) for c in range(meta["n_classes"])}


def test_common_constant_is_known_only_when_every_class_is(prepared_dir, tmp_path, cfg):
    from gcnc.study.data import prepare_dataset
    from gcnc.study.theory.poincare import poincare_table

    prepare_dataset("gaussians_mixtures", cfg, tmp_path / "gm")
    columns = ["run_id", "step", "dataset", "task", "split", "gc_estimator", "nc"]
    empty = pd.DataFrame(columns=[*columns, "geometric_collapse"])
    classes = pd.DataFrame(columns=["run_id", "step", "split", "class", "variance", "gc"])
    table = poincare_table(
        empty,
        classes,
        {"gaussians": prepared_dir / "gaussians", "gaussians_mixtures": tmp_path / "gm"},
        {"max_samples": 300},
    )
    maxima = table[table["class"] == "max"].groupby("dataset").true_value.first()
    assert np.isnan(maxima["gaussians_mixtures"])
    truth = load_prepared(prepared_dir / "gaussians").meta["poincare_constants"]
    assert maxima["gaussians"] == pytest.approx(max(truth.values()))
    # the max rows: estimator 3's own (a 95% bound on the max, point = max of the class points),
    # the others the max over classes; the bound never exceeds the largest class bound
    rows = table[table.dataset == "gaussians"].set_index(["method", "class"])
    linear = rows.loc["linear_test_functions"]
    classes = linear[linear.index.str.isdigit()]
    assert linear.loc["max", "confidence"] == 0.95
    assert linear.loc["max", "point"] == classes.point.max()
    assert linear.loc["max", "estimate"] in set(classes.estimate)
    ritz = rows.loc["ritz_polynomial"]
    assert ritz.loc["max", "estimate"] == ritz[ritz.index.str.isdigit()].estimate.max()
    assert ritz.loc["max", "kind"] == "restricted_estimate" and np.isnan(
        ritz.loc["max", "confidence"]
    )


def test_c_in_pixel_units_follows_the_input_scale():
    """c carries the units of input variance: the same network read on standardised inputs
    (u - m) / s and on the [0, 1] pixels u gives NC / GCol ratios that differ by s^2, the factor
    :func:`gcnc.study.theory.poincare.input_units` takes from the prepared data's recorded std."""
    import torch

    from gcnc.metrics.collapse import class_stats, geometric_collapse, neural_collapse
    from gcnc.metrics.gc import per_example_gc
    from gcnc.study.theory.poincare import input_units

    class Standardise(torch.nn.Module):
        def forward(self, u: torch.Tensor) -> torch.Tensor:
            return (u - mean) / std

    torch.manual_seed(0)
    mean, std = 0.29, 0.36
    net = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.Tanh(), torch.nn.Linear(5, 3))
    net = net.double()
    u = torch.rand(60, 6, dtype=torch.float64)  # pixels in [0, 1]
    y = torch.arange(60) % 3
    stats = class_stats(net((u - mean) / std).detach(), y, 3)  # the same embedding both ways
    ratios = []
    for model, x in ((net, (u - mean) / std), (torch.nn.Sequential(Standardise(), net), u)):
        gc = float(per_example_gc(model, x, estimator="exact").mean())
        ratios.append(neural_collapse(stats) / geometric_collapse(gc, stats))
    factor = input_units({"std": [std]})
    assert factor == pytest.approx(std**2)
    assert ratios[1] == pytest.approx(ratios[0] * factor, rel=1e-9)
    assert np.isnan(input_units({}))  # data without a recorded std (synthetic): no conversion
