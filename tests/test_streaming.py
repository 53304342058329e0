"""The streaming metric gcnc.Collapse and its small-space statistics: NC1 and the ranks equal the
dense p x p computations (NumPy, from the formulas) to float64 precision in each of the three
forms the statistics are kept in; fed batch by batch the metric gives gcnc.measure's numbers; the
per-class detail equals brute force and is read by NumPy and pandas; reset, lists of labels, and
the errors of a training loop."""

import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import gcnc
from gcnc.metrics import (
    NC2,
    ClassAccumulator,
    Collapse,
    nc1,
    nc2,
    numerical_rank,
    stable_rank,
    streaming,
)
from gcnc.metrics.gc import per_example_gc
from gcnc.models import build_model

K = 4


def dense(f: np.ndarray, y: np.ndarray) -> dict:
    """The metrics as the p x p formulas give them: NC1 with the pseudo-inverse of Sigma_B,
    the rank from the SVD of the centred features, stable rank from each class's 2-norm."""
    mus = np.array([f[y == c].mean(0) for c in range(K)])
    centred = f - mus[y]
    sigma_w = centred.T @ centred / len(f)
    m = mus - mus.mean(0)
    sv = np.linalg.svd(f - f.mean(0), compute_uv=False)
    stable = [(f[y == c] ** 2).sum() / np.linalg.norm(f[y == c], ord=2) ** 2 for c in range(K)]
    return {
        "nc1": np.trace(sigma_w @ np.linalg.pinv(m.T @ m / K, hermitian=True)) / K,
        "rank": int((sv > 1e-3 * sv.max()).sum()),
        "stable_rank": float(np.mean(stable)),
    }


def features(n: int, p: int, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """n examples of K classes in p dimensions: class means of scale 3, a within-class spread
    of rank min(p, 6) (so that the numerical rank is below p), all offset by ``shift``."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % K
    spread = rng.normal(size=(n, min(p, 6))) @ rng.normal(size=(min(p, 6), p))
    return shift + 3 * rng.normal(size=(K, p))[y] + spread, y


@pytest.mark.parametrize(("n", "p"), [(40, 7), (24, 300), (12, 1000)])
def test_nc1_and_ranks_equal_the_dense_path(n, p):
    f, y = features(n, p)
    expected = dense(f, y)
    ft, yt = torch.tensor(f), torch.tensor(y)
    assert nc1(ft, yt) == pytest.approx(expected["nc1"], rel=1e-10)
    assert numerical_rank(ft) == expected["rank"] == min(n - 1, p, K - 1 + 6)
    assert stable_rank(ft, yt) == pytest.approx(expected["stable_rank"], rel=1e-10)


@pytest.mark.parametrize("form", ["features", "scatter", "none"])
def test_the_three_forms_of_the_accumulator_equal_the_dense_path(monkeypatch, form):
    """Batches of 5 of 40 examples in p = 9 far from the origin (1e3): the features kept, S_W
    merged batch by batch (Chan et al.), or neither (NC1 and ranks None, and a note)."""
    f, y = features(40, 9, seed=1, shift=1e3)
    keep = {"features": None, "scatter": 0, "none": 0}[form]
    if form == "none":
        monkeypatch.setattr(streaming, "SCATTER_MAX_ELEMENTS", 80)
    acc = ClassAccumulator(K, keep_features=keep)
    for i in range(0, 40, 5):
        acc.add(torch.tensor(f[i : i + 5]), torch.tensor(y[i : i + 5]))
    expected = dense(f, y)
    if form == "none":
        assert (acc.nc1(), acc.numerical_rank(), acc.stable_rank()) == (None, None, None)
        assert acc.notes == ["NC1 and ranks not accumulated: N p > 0 feature values and "
                             "p^2 = 81 > 80"]  # fmt: skip
        return
    assert acc.nc1() == pytest.approx(expected["nc1"], rel=1e-9)
    assert acc.numerical_rank() == expected["rank"]
    assert acc.stable_rank() == pytest.approx(expected["stable_rank"], rel=1e-9)
    assert (acc.kept is None) == (form == "scatter")


def test_nc1_drops_the_directions_the_pseudo_inverse_drops():
    """Two classes with equal means (rank Sigma_B = 2 of k - 1 = 3): the zero direction is left
    out, as pinv(Sigma_B) leaves out its zero eigenvalue."""
    f, y = features(40, 5, seed=2)
    f[y == 3] += f[y == 2].mean(0) - f[y == 3].mean(0)
    assert nc1(torch.tensor(f), torch.tensor(y)) == pytest.approx(dense(f, y)["nc1"], rel=1e-9)


def small_cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("cnn", (1, 8, 8), K, embed_dim=6, width=4)


def test_collapse_fed_batch_by_batch_gives_the_numbers_of_measure():
    """A training loop's feed: features, logits and exact per-example GC of each batch of 9;
    every field equals gcnc.measure's on the same 36 images (GC on all of them, exactly)."""
    model = small_cnn()
    g = torch.Generator().manual_seed(1)
    y = torch.arange(36) % K
    x = torch.randn(36, 1, 8, 8, generator=g) + 0.5 * y[:, None, None, None]
    metric = gcnc.Collapse(K)
    for xb, yb in zip(x.split(9), y.split(9), strict=True):
        with torch.no_grad():
            f = model.embed.eval()(xb)
            logits = model.head(f)
        metric.update(f, yb.tolist(), logits=logits, gc=per_example_gc(model.embed, xb))
    streamed = metric.compute(head_weight=model.head.weight)
    measured = gcnc.measure(model, x, y, estimator="exact", gc_examples=36, batch_size=9)
    row = measured.to_dict()
    for key, value in streamed.to_dict().items():
        if key == "notes":
            assert value == ""
        elif isinstance(value, float):
            assert value == pytest.approx(row[key], rel=1e-9), key
        else:
            assert value == row[key], key
    metric.reset()
    with pytest.raises(ValueError, match="data: no examples"):
        metric.compute()


def test_detail_equals_brute_force_and_pandas_and_numpy_read_it(tmp_path):
    pd = pytest.importorskip("pandas")
    f, y = features(30, 5, seed=3)
    gc = np.random.default_rng(4).uniform(1, 2, size=30)
    metric = Collapse()
    metric.update(f[:13], y[:13], gc=gc[:13])
    metric.update(f[13:], y[13:], gc=gc[13:])
    result = metric.compute(detail=True)
    d = result.detail
    mus = np.array([f[y == c].mean(0) for c in range(K)])
    var = np.array([((f[y == c] - mus[c]) ** 2).sum(1).mean() for c in range(K)])
    gc_c = np.array([gc[y == c].mean() for c in range(K)])
    np.testing.assert_allclose(d.means, mus, rtol=1e-12)
    np.testing.assert_allclose(d.variance, var, rtol=1e-12)
    np.testing.assert_allclose(d.gc, gc_c, rtol=1e-12)
    assert d.n.tolist() == d.gc_examples.tolist() == [8, 8, 7, 7]
    d2 = ((mus[:, None] - mus[None]) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cdnv = (var[:, None] + var[None]) / (2 * d2)
    np.fill_diagonal(cdnv, np.nan)
    np.testing.assert_allclose(np.asarray(d.cdnv), cdnv, rtol=1e-12)  # NaN diagonal both
    assert result.gc == pytest.approx(gc_c.mean(), rel=1e-12)
    se = math.sqrt(sum(gc[y == c].var(ddof=1) / (y == c).sum() for c in range(K))) / K
    assert result.gc_stderr == pytest.approx(se, rel=1e-12)
    table = pd.DataFrame(d.table())
    assert list(table.columns) == ["class", "n", "variance", "gc", "gc_examples"]
    assert table["gc"].tolist() == pytest.approx(gc_c.tolist())
    pd.testing.assert_frame_equal(d.to_pandas(), table)
    classes, means, cdnv_file = d.save(tmp_path / "detail")
    pd.testing.assert_frame_equal(pd.read_csv(classes), table, check_dtype=False)
    np.testing.assert_array_equal(np.load(means), d.means)
    np.testing.assert_array_equal(np.load(cdnv_file), d.cdnv)


def test_nc2_names_follow_metrics_csv_and_keep_the_old_ones():
    f, y = features(20, 5)
    errors = nc2(torch.tensor(f), torch.tensor(y))
    assert NC2._fields == ("nc2_equinorm", "nc2_equiangle")
    assert (errors.equinorm, errors.equiangularity) == tuple(errors)


def test_to_pandas_without_pandas_says_to_install_it(monkeypatch):
    f, y = features(20, 5)
    metric = Collapse(K)
    metric.update(f, y)
    result = metric.compute(detail=True)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    with pytest.raises(ImportError, match=r"to_pandas\(\) needs pandas.*pip install pandas"):
        result.to_pandas()
    with pytest.raises(ImportError, match="pip install pandas"):
        result.detail.to_pandas()


def test_errors_of_a_training_loop_name_the_argument():
    f, y = features(20, 5)
    metric = Collapse(K)
    metric.update(f[:10], y[:10])
    with pytest.raises(ValueError, match="features: 3 features, earlier batches had 5"):
        metric.update(f[10:, :3], y[10:])
    metric.update(f[10:15], y[10:15], logits=torch.zeros(5, K))
    with pytest.raises(ValueError, match=r"logits: shape \(5, 2\), expected \(5, classes\)"):
        metric.update(f[15:], y[15:], logits=torch.zeros(5, 2))
    with pytest.raises(ValueError, match="gc: 2 values for 5 rows of features"):
        metric.update(f[15:], y[15:], gc=[1.0, 2.0])
    assert metric.classes.n == 15  # a batch refused is not added
    with pytest.raises(TypeError, match="labels: a list of integer class indices.* 0.5"):
        metric.update(f[10:], [0.5] * 10)
    with pytest.raises(ValueError, match="gc: squared Jacobian norms cannot be negative"):
        metric.update_gc([-1.0], [0])
    with pytest.raises(ValueError, match=r"gc: classes \[1, 2, 3\] have no GC values"):
        metric.update_gc(np.ones(1), [0])
        metric.compute()


def test_the_training_loop_of_the_documentation_runs():
    """docs/library.md's training-loop example, on a small CNN and random images."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "library.md").read_text()
    section = text[text.index("## In a training loop") :]
    code = section[section.index("```python\n") + 10 : section.index("```\n", 10)]
    assert len(code.strip().splitlines()) == 10
    model = small_cnn()
    g = torch.Generator().manual_seed(5)
    y = torch.arange(24) % K
    loader = list(zip(torch.randn(24, 1, 8, 8, generator=g).split(8), y.split(8), strict=True))
    printed = []
    scope = {"gcnc": gcnc, "torch": torch, "model": model, "epochs": 2}
    scope |= {"train_loader": loader, "test_loader": loader, "train_one_epoch": lambda *_: None}
    scope["print"] = lambda *values: printed.append(values)
    exec(code.replace("n_classes=10", f"n_classes={K}"), scope)
    assert len(printed) == 2 and scope["result"].n_examples == 24
