"""gcnc.measure: the same numbers as the in-memory metrics on the same features, whatever the
batching, data container, order or pass; the embedding found in torchvision's families; GC's
estimator (chosen by time), sample (independent of batching) and standard error; read-only and on
the model's device."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import gcnc
from gcnc.embedding import resolve_embedding
from gcnc.metrics import (
    class_stats,
    gc_plan,
    geometric_collapse,
    nc1,
    nc2,
    nc3,
    nc4,
    ncm_accuracy,
    neural_collapse,
    numerical_rank,
    per_example_gc,
    stable_rank,
    streaming,
)
from gcnc.metrics.gc import exact_mode
from gcnc.models import build_model
from gcnc.streams import ClassReservoir
from tests.pretend_device import PretendDevice, to_pretend

K = 3


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return build_model("cnn", (1, 8, 8), K, embed_dim=6, width=4)


def images(n: int = 30, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % K
    return torch.randn(n, 1, 8, 8, generator=g) + 0.5 * y[:, None, None, None], y


def balanced_gc(per_example: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Mean over classes of the class means, and the stratified standard error (NumPy)."""
    v, labels = per_example.numpy(), y.numpy()
    groups = [v[labels == c] for c in range(K)]
    se = math.sqrt(sum(g.var(ddof=1) / len(g) for g in groups)) / K
    return float(np.mean([g.mean() for g in groups])), se


def assert_same(got: dict, expected: dict, skip: tuple[str, ...] = (), rel: float = 1e-9) -> None:
    """Equal rows: floats to a relative ``rel``, every other value exactly."""
    assert got.keys() == expected.keys()
    for key in set(got) - set(skip):
        if isinstance(expected[key], float):
            assert got[key] == pytest.approx(expected[key], rel=rel, nan_ok=True), key
        else:
            assert got[key] == expected[key], key


def test_measure_equals_the_in_memory_metrics():
    model, (x, y) = small_cnn(), images()
    m = gcnc.measure(model, x, y, batch_size=7, estimator="exact", gc_examples=len(y))
    with torch.no_grad():
        f = model.embed.eval()(x)
        logits = model.head(f)
    means = class_stats(f, y).means
    gc, se = balanced_gc(per_example_gc(model.embed, x), y)
    assert m.embedding == "input of 'head' (6 -> 3)" and (m.n_examples, m.n_classes) == (30, K)
    assert (m.gc_estimator, m.gc_probes, m.gc_examples, m.embed_dim) == ("exact", None, 30, 6)
    assert m.gc == pytest.approx(gc, rel=1e-12) and m.gc_stderr == pytest.approx(se, rel=1e-9)
    assert m.geometric_collapse == pytest.approx(geometric_collapse(gc, f, y), rel=1e-9)
    assert m.nc == pytest.approx(neural_collapse(f, y), rel=1e-9)
    assert m.nc1 == pytest.approx(nc1(f, y), rel=1e-8)
    assert (m.nc2_equinorm, m.nc2_equiangle) == pytest.approx(tuple(nc2(f, y)), rel=1e-9)
    assert m.nc3 == pytest.approx(nc3(f, y, model.head.weight), rel=1e-9)
    assert m.nc4 == nc4(f, logits, means) and m.ncm_accuracy == ncm_accuracy(f, y, means)
    assert m.accuracy == float((logits.argmax(1) == y).double().mean())
    assert m.rank == numerical_rank(f) and m.stable_rank == pytest.approx(stable_rank(f, y))
    assert m.metric_status == "ok" and "GC estimator exact (given)" in m.notes
    row = m.to_pandas()
    assert list(row.columns) == list(m.to_dict()) and row.loc[0, "nc"] == m.nc


def test_every_data_container_and_the_second_pass_give_the_same_numbers(monkeypatch, capsys):
    model, (x, y) = small_cnn(), images()
    options = {"estimator": "exact", "gc_examples": 30}
    ref = gcnc.measure(model, x, y, batch_size=30, **options).to_dict()
    variants = {
        "numpy": lambda: gcnc.measure(model, x.numpy(), y.numpy(), batch_size=4, **options),
        "list labels": lambda: gcnc.measure(model, x, y.tolist(), batch_size=4, **options),
        "dataset": lambda: gcnc.measure(model, TensorDataset(x, y), batch_size=5, **options),
        "loader": lambda: gcnc.measure(model, DataLoader(TensorDataset(x, y), 8), **options),
        "list": lambda: gcnc.measure(
            model, list(zip(x.split(9), y.split(9), strict=True)), **options
        ),
    }
    for run in variants.values():
        assert_same(run().to_dict(), ref)
    # S_W instead of the features (the scatter form): a second pass for NCM and NC4
    monkeypatch.setattr(streaming, "KEEP_FEATURES_MAX", 0)
    second = gcnc.measure(model, x, y, batch_size=7, progress=True, **options).to_dict()
    assert "a second pass for NCM accuracy, NC4" in capsys.readouterr().err
    assert_same(second, ref)
    # neither features nor S_W: NC1 from the second pass, no ranks
    monkeypatch.setattr(streaming, "SCATTER_MAX_ELEMENTS", 0)
    third = gcnc.measure(model, x, y, batch_size=7, **options).to_dict()
    assert_same(third, ref, skip=("rank", "stable_rank", "notes"))
    assert third["rank"] is None and third["stable_rank"] is None
    assert "NC1 and ranks not accumulated: N p > 0 feature values" in third["notes"]


def test_sampled_gc_does_not_depend_on_batching_loader_or_order():
    """The GC examples (30 of 60) and Hutchinson's probes are drawn from each example's key:
    DataLoader batches of 1, 7 and all give identical results, and so do the shuffled data and
    another batch_size of measure's own (its GC chunks: equal to float rounding)."""
    model, (x, y) = small_cnn(), images(60)
    options = {"estimator": "hutchinson", "n_probes": 2, "gc_examples": 30, "seed": 3}
    runs = [
        gcnc.measure(model, DataLoader(TensorDataset(x, y), batch_size=b), **options)
        for b in (1, 7, 60)
    ]
    gc = {(r.gc, r.gc_stderr, r.gc_examples) for r in runs}
    assert len(gc) == 1 and runs[0].gc_examples == 30  # identical, to the last bit
    for r in runs[1:]:  # features of float32 forward passes of other sizes: to float rounding
        assert_same(r.to_dict(), runs[0].to_dict(), rel=1e-5)
    order = torch.randperm(60, generator=torch.Generator().manual_seed(5))
    shuffled = gcnc.measure(model, x[order], y[order], **options)
    assert (shuffled.gc, shuffled.gc_stderr) == (runs[0].gc, runs[0].gc_stderr)
    for b in (1, 7):
        other = gcnc.measure(model, x, y, batch_size=b, **options)
        assert other.gc == pytest.approx(runs[0].gc, rel=1e-6)
    reseeded = gcnc.measure(model, x, y, **{**options, "seed": 4})
    assert reseeded.gc != runs[0].gc  # the seed does change the sample and the probes


def test_features_far_from_the_origin_keep_their_precision():
    """Identity embedding on float64 inputs at 1e8 with spread 1: streamed class statistics equal
    those from exact differences, NCM is perfect, and GC is ||I||_F^2 = d exactly."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % K
    x = 1e8 + 3 * rng.normal(size=(K, 4))[y] + 0.3 * rng.normal(size=(60, 4))
    m = gcnc.measure(lambda t: t, x, y, batch_size=7, gc_examples=60)
    xt, yt = torch.tensor(x), torch.tensor(y)
    assert m.nc == pytest.approx(neural_collapse(xt, yt), rel=1e-6)
    assert m.nc1 == pytest.approx(nc1(xt, yt), rel=1e-6)
    assert m.ncm_accuracy == 1.0 and m.accuracy is None and m.rank == numerical_rank(xt)
    assert (m.gc, m.gc_stderr) == (4.0, 0.0)
    assert any("no logits" in note for note in m.notes)


def test_gc_sample_is_class_stratified_and_uniform_within_each_class():
    """Classes arrive one after another (as in a sorted image folder); the kept sample has
    total // k examples per class, and every example is kept equally often (algorithm R with a
    shrinking capacity): 2000 seeds, 40 examples per class, 4 kept, so 200 expected each."""
    x = torch.arange(120.0)[:, None]
    y = torch.arange(120) // 40
    counts = np.zeros(120)
    for seed in range(2000):
        r = ClassReservoir(12, seed)
        for xb, yb in zip(x.split(7), y.split(7), strict=True):
            r.offer(xb, yb)
        kept, labels = r.sample()
        assert torch.bincount(labels).tolist() == [4, 4, 4]
        counts[kept.flatten().long().numpy()] += 1
    chi2 = ((counts - 200) ** 2 / 200).sum()  # ~ chi-square with about 117 degrees of freedom
    assert abs(counts - 200).max() < 5 * math.sqrt(200 * 0.9) and 60 < chi2 < 190


def test_auto_estimator_by_time_and_hutchinson_is_unbiased_within_its_stderr():
    model, (x, y) = small_cnn(), images(60)
    exact = gcnc.measure(model, x, y, estimator="exact", gc_examples=60)
    auto = gcnc.measure(model, x, y, gc_examples=60, gc_max_seconds=1e6)  # exact: in budget
    assert auto.gc_estimator == "exact" and auto.gc == exact.gc
    assert "GC estimator exact (auto: predicted" in auto.notes[-1]
    runs = [
        gcnc.measure(model, x, y, gc_max_seconds=1e-6, n_probes=2, gc_examples=60, seed=s)
        for s in range(20)
    ]
    assert all(r.gc_estimator == "hutchinson" and r.gc_probes == 2 for r in runs)
    assert "n_probes=2" in runs[0].notes[-1] and "probes given" in runs[0].notes[-1]
    # no time for one probe on 60 examples: 2 per class (the least), and the note reproduces it
    assert all(r.gc_examples == 2 * K for r in runs) and "gc_examples=6)" in runs[0].notes[-1]
    again = gcnc.measure(model, x, y, estimator="hutchinson", n_probes=2, gc_examples=6)
    assert (again.gc, again.gc_stderr) == (runs[0].gc, runs[0].gc_stderr)
    values = np.array([r.gc for r in runs])
    assert abs(values.mean() - exact.gc) < 4 * values.std(ddof=1) / math.sqrt(len(values))
    # the reported standard error covers examples and probes: above exact's (examples only)
    assert np.mean([r.gc_stderr for r in runs]) > exact.gc_stderr > 0


@pytest.mark.parametrize(
    ("seconds", "target", "probes", "why"),
    [
        (60.0, 0.01, 100, "1% relative standard error from probes needs 100;"),
        (60.0, 0.1, 1, "10% relative standard error from probes needs 1;"),
        (1.05, 0.01, 15, "needs 100, the budget allows 15;"),
        (0.01, 0.01, 1, "the budget allows 0; GC on 7 of the 100 examples to fit the budget"),
        (63.0, 0.01, None, "exact (auto: predicted 62.6 s"),
    ],
)
def test_auto_probes_from_the_pilot_timings_and_variance(monkeypatch, seconds, target, probes, why):
    """The pilot's timings given (not run) for 16 of 100 examples: 10 ms a forward pass, 10 ms a
    VJP, p = 1000, GC 10 with a single-probe variance of 100. Exact: 100/16 x (0.01 + 1000 x
    0.01) = 62.6 s. Hutchinson needs q = 100 / (target^2 x 10^2 x 100) probes; a budget B
    allows floor((B / 6.25 - 0.01) / 0.01), and when that is 0, one probe on
    floor(B / (0.02 / 16)) examples."""
    pilot = {"forward": 0.01, "pass": 0.01, "p": 1000.0, "gc": 10.0, "variance": 100.0}
    monkeypatch.setattr(gc_plan, "_pilot", lambda *_args: pilot)
    x = torch.randn(100, 1, 32, 32)  # d = 1024: exact GC takes p VJPs (2d > p), not d JVPs
    plan = gc_plan.plan_gc(
        small_cnn().embed, x, "auto", None, max_seconds=seconds, target_rse=target
    )
    assert plan.n_probes == probes and why in plan.note, plan.note
    if probes is not None:
        examples = plan.n_examples or 100
        assert plan.predicted_seconds == pytest.approx(examples / 16 * (0.01 + probes * 0.01))
        assert f"estimator='hutchinson', n_probes={probes}" in plan.note


TORCHVISION = [
    ("resnet18", {}, "fc"),
    ("vgg11", {}, "classifier.6"),
    ("densenet121", {}, "classifier"),
    ("mobilenet_v3_small", {}, "classifier.3"),
    ("efficientnet_b0", {}, "classifier.1"),
    ("convnext_tiny", {}, "classifier.2"),
    ("regnet_y_400mf", {}, "fc"),
    ("swin_t", {}, "head"),
    ("vit_b_16", {"image_size": 32}, "heads.head"),
]


@pytest.mark.parametrize(("name", "kwargs", "head"), TORCHVISION, ids=[t[0] for t in TORCHVISION])
def test_embedding_of_torchvision_families_is_the_input_of_their_head(name, kwargs, head):
    from torchvision import models

    torch.manual_seed(0)
    model = models.get_model(name, num_classes=K, **kwargs).eval()
    x = torch.randn(2, 3, 32, 32)
    emb = resolve_embedding(model, None, None, x)
    assert emb.description.startswith(f"input of '{head}'")
    with torch.no_grad():
        f, logits = emb.features_and_logits(x)
        out = model(x)
    linear = model.get_submodule(head)
    assert emb.head is linear and f.shape == (2, linear.in_features)
    assert torch.allclose(logits, out) and torch.allclose(linear(f), out, atol=1e-5)


def test_layer_names_and_callables_name_the_embedding():
    model, (x, y) = small_cnn(), images()
    auto = gcnc.measure(model, x, y, estimator="exact", gc_examples=30).to_dict()
    by_name = gcnc.measure(model, x, y, embed="embed", estimator="exact", gc_examples=30)
    by_call = gcnc.measure(
        model, x, y, embed=model.embed, head=model.head, estimator="exact", gc_examples=30
    )
    skip = ("embedding", "notes", "nc3")  # a named layer is not known to feed the head (NC3)
    assert_same(by_name.to_dict(), auto, skip)
    assert_same(by_call.to_dict(), auto, ("embedding", "notes"))
    assert by_name.embedding == "output of 'embed' (Sequential)" and by_name.nc3 is None
    with pytest.raises(ValueError, match=r"embed \(output of 'embed.0' .*shape \(30, 4, 8, 8\)"):
        gcnc.measure(model, x, y, embed="embed.0")
    with pytest.raises(ValueError, match="ran 2 times"):
        from torchvision.models import resnet18

        gcnc.measure(
            resnet18(num_classes=K), torch.randn(6, 3, 16, 16), y[:6], embed="layer1.0.relu"
        )


def hooks(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_measurement_is_read_only_and_leaves_no_hook_even_on_error():
    torch.manual_seed(0)
    model = build_model("vgg_small", (1, 8, 8), K, width=2)
    with torch.no_grad():  # BatchNorm statistics away from their initial values
        model.train()(torch.randn(16, 1, 8, 8) * 2 + 1)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    bns[0].eval()  # a mixed mode, as when BatchNorm is frozen for fine-tuning
    before = copy.deepcopy(model.state_dict())
    modes = {n: m.training for n, m in model.named_modules()}
    x, y = images()
    gcnc.measure(model, x, y, batch_size=8, estimator="hutchinson", n_probes=2)
    gcnc.measure(model, x, y, batch_size=8)  # auto: the pilot too is read-only
    bad = y.clone()
    bad[20] = K  # out of range in the third batch
    with pytest.raises(ValueError, match=r"labels: class index 3 is out of range"):
        gcnc.measure(model, x, bad, n_classes=K, batch_size=8)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert {n: m.training for n, m in model.named_modules()} == modes
    assert hooks(model) == 0 and all(p.grad is None for p in model.parameters())


@pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")
def test_measure_runs_on_the_model_device_with_the_cpu_values():
    model, (x, y) = small_cnn(), images()
    options = {"estimator": "hutchinson", "n_probes": 3, "gc_examples": 12, "batch_size": 8}
    cpu = gcnc.measure(model, x, y, **options)
    with PretendDevice():
        dev = gcnc.measure(to_pretend(copy.deepcopy(model)), x, y, **options)
    assert dev == cpu


def test_exact_gc_through_the_hook_in_forward_mode():
    """d = 3 inputs, p = 16 features: exact GC takes 3 forward-mode JVPs (2d < p) through the
    hooked network; the same per-example values as on the embedding module itself."""
    torch.manual_seed(0)
    model = build_model("mlp", (3,), K, embed_dim=16, width=8)
    x, y = torch.randn(30, 3), torch.arange(30) % K
    m = gcnc.measure(model, x, y, estimator="exact", gc_examples=30)
    assert exact_mode(16, 3) == (True, 3)  # 2 x 3 < 16: JVPs count twice a VJP
    assert m.gc == pytest.approx(balanced_gc(per_example_gc(model.embed, x), y)[0], rel=1e-12)


def test_progress_lines_give_the_time_left_at_most_once_a_second(monkeypatch, capsys):
    from gcnc import streams

    clock = iter([0.0, 0.0, 2.0, 2.5, 10.0])
    monkeypatch.setattr(streams.time, "monotonic", lambda: next(clock))
    report = streams.Progress(True)  # starts at 0 s
    report.step("GC (exact)", 0, 100, "Jacobian products")  # the stage begins at 0 s
    report.step("GC (exact)", 25, 100, "Jacobian products")  # 2 s: a quarter in 2 s, 6 s left
    report.step("GC (exact)", 30, 100, "Jacobian products")  # 2.5 s: within a second, silent
    report.step("GC (exact)", 100, 100, "Jacobian products")  # 10 s: the last line
    assert capsys.readouterr().err.splitlines() == [
        "measure: GC (exact) 25/100 Jacobian products, 2 s, about 6 s left",
        "measure: GC (exact) 100/100 Jacobian products, 10 s",
    ]


def test_an_output_computed_after_the_last_linear_says_why_and_which_layer_to_pass():
    """A network ending in log_softmax: the error names the last Linear and the layer that
    feeds it; with that layer, the numbers are those of its output."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 6), nn.ReLU(), nn.Linear(6, K), nn.LogSoftmax(1)
    )
    x, y = images()
    with pytest.raises(
        ValueError,
        match=r"model: the network's output \(2, 3\) is computed after its last nn.Linear, '3' "
        r"\(e.g. by a log_softmax or softmax\), not by an nn.Linear, .* pass embed='2'",
    ):
        gcnc.measure(net, x, y)
    m = gcnc.measure(net, x, y, embed="2", estimator="exact")
    with torch.no_grad():
        f = net[:3](x)
    assert m.embedding == "output of '2' (ReLU)"
    assert m.nc == pytest.approx(neural_collapse(f, y), rel=1e-9)
