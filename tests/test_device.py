"""Device cleanliness without a GPU: measurements, training, few-shot transfer and the GC sampling
study run on a pretend accelerator (tests/pretend_device.py) and give exactly the CPU values; a
tensor made on the CPU inside them raises "device mismatch", as it does on CUDA."""

import copy
import json
import runpy
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from gcnc.metrics import (
    cdnv,
    class_stats,
    gc_penalty,
    geometric_collapse,
    inverse_distance_sum,
    nc1,
    nc2,
    nc3,
    nc4,
    ncm_accuracy,
    neural_collapse,
    numerical_rank,
    path_slope,
)
from gcnc.metrics.snapshot import snapshot
from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining import pretrain
from gcnc.study.pretraining import sgd as training
from gcnc.study.theory import gc_sampling
from gcnc.study.transfer import fewshot
from gcnc.study.transfer.fewshot import evaluate_transfer, sample_episodes, save_episodes
from tests.pretend_device import DEVICE, Pretend, PretendDevice, to_pretend
from tests.projects import namedlist

# load_state_dict warns about copying into "meta" parameters; the pretend ones do take the copy
pytestmark = pytest.mark.filterwarnings("ignore:.*to a meta parameter:UserWarning")
SCRIPTS = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
FEWSHOT = {"ways": [5], "shots": [1, 2], "queries": 3, "episodes": 4, "seed": 0}
FEWSHOT |= {"classifiers": ["ncm", "logreg"], "finetune_steps": 2}
METRICS = {"gc_estimator": "exact", "gc_probes": 2}
SAMPLING = {"trials": 2, "eval_examples": 30, "example_counts": [10, 30]}
SAMPLING |= {"input_fractions": [0.5, 1.0], "feature_fractions": [0.5, 1.0]}
# torch.func.jvp (exact GC in forward mode, the Jacobian-entries axis) does not run on pretend
# tensors: the device tests use reverse mode, tests/test_gpu.py covers forward mode on CUDA
SAMPLING_DEV = {**SAMPLING, "input_fractions": []}
UNTIMED = ["seconds", "exact_seconds"]


@pytest.fixture
def pretend():
    with PretendDevice():
        yield DEVICE


def on_device(model: torch.nn.Module) -> torch.nn.Module:
    return to_pretend(copy.deepcopy(model))


def test_harness_flags_cpu_tensors_and_keeps_values(pretend):
    a = torch.arange(4.0)
    b = a.to(pretend)
    assert isinstance(b, Pretend) and b.device == pretend
    assert isinstance(torch.zeros(2, device=pretend), Pretend)
    assert isinstance(torch.tensor([1.0], device=pretend), Pretend)
    assert torch.equal((b * 2 + torch.tensor(1.0)).cpu(), a * 2 + 1)  # 0-dim CPU is allowed
    for bad in (lambda: b + a, lambda: torch.zeros(4).index_add_(0, torch.arange(4), b)):
        with pytest.raises(RuntimeError, match="device mismatch"):
            bad()
    with pytest.raises(RuntimeError, match="device mismatch"):
        torch.randperm(3, generator=torch.Generator(), device=pretend)


def collapse_values(f, y, w, logits) -> dict:
    s = class_stats(f, y)
    return {
        "cdnv": cdnv(s).cpu().nan_to_num(-1.0).tolist(),
        "nc": neural_collapse(f, y),
        "inv": inverse_distance_sum(s),
        "gcol": geometric_collapse(0.7, s),
        "nc1": nc1(f, y),
        "nc2": nc2(s),
        "nc3": nc3(s, None, w),
        "nc4": nc4(f, logits, s.means),
        "ncm": ncm_accuracy(f, y, s.means),
        "rank": numerical_rank(f),
    }


def test_collapse_metrics_on_device(pretend):
    g = torch.Generator().manual_seed(0)
    y = torch.arange(30) % 4
    f = torch.randn(30, 6, generator=g) + 2 * torch.randn(4, 6, generator=g)[y]
    w, logits = torch.randn(4, 6, generator=g), torch.randn(30, 4, generator=g)
    cpu = collapse_values(f, y, w, logits)
    dev = collapse_values(*(t.to(pretend) for t in (f, y, w, logits)))
    assert dev == cpu
    s = class_stats(f.to(pretend), y.to(pretend))
    assert all(isinstance(t, Pretend) for t in (s.counts, s.means, s.variances))


@pytest.mark.parametrize(
    "arch, shape, estimator", [("cnn", (1, 8, 8), "exact"), ("mlp", (6,), "hutchinson")]
)
def test_snapshot_and_slope_on_device(pretend, arch, shape, estimator):
    torch.manual_seed(0)
    model = build_model(arch, shape, 3, embed_dim=16, width=8)
    x, y = torch.randn(24, *shape), torch.arange(24) % 3
    dev_model = on_device(model)
    results = []
    for m, xs, ys in ((model, x, y), (dev_model, x.to(pretend), y.to(pretend))):
        kw = {"estimator": estimator, "n_probes": 3, "generator": torch.Generator().manual_seed(1)}
        train = snapshot(m, xs, ys, 3, **kw)
        test = snapshot(m, xs[:12], ys[:12], 3, ncm_means=train[2], **kw)
        results.append((train[:2], test[:2], train[2].cpu(), path_slope(m, xs, ys)))
    (a_train, a_test, a_means, a_slope), (b_train, b_test, b_means, b_slope) = results
    assert a_train == b_train and a_test == b_test and a_slope == b_slope
    assert torch.equal(a_means, b_means)


def test_gc_penalty_on_device(pretend):
    torch.manual_seed(1)
    model = build_model("mlp", (5,), 3, embed_dim=4, width=8)
    dev_model = on_device(model)
    x = torch.randn(10, 5)
    for m, xs in ((model, x), (dev_model, x.to(pretend))):
        gc_penalty(m.embed, xs, 3, torch.Generator().manual_seed(2)).backward()
    for p, q in zip(model.embed.parameters(), dev_model.embed.parameters(), strict=True):
        assert isinstance(q.grad, Pretend) and torch.equal(p.grad, q.grad.cpu())


def run_spec(**kw) -> RunSpec:
    base = dict(dataset="digits", arch="mlp", task="full", lr=0.05, batch_size=16)
    base |= dict(weight_decay=0.0, gc_reg=0.01, seed=3, steps=6, model={"width": 16})
    return RunSpec(**{**base, **kw})


def test_pretrain_on_device_and_resume(digits, config, tmp_path, monkeypatch):
    preset = copy.deepcopy(config["presets"]["smoke"])
    preset["training"].update(log_every=3, checkpoint_every=2, eval_examples=40)
    pretrain.pretrain(run_spec(), digits, preset, tmp_path / "cpu", progress=False)
    monkeypatch.setattr(pretrain, "resolve_device", lambda name: DEVICE)
    original, calls = torch.optim.SGD.step, {"n": 0}

    def dying_step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("preempted")
        return original(self, *args, **kwargs)

    with PretendDevice():
        monkeypatch.setattr(torch.optim.SGD, "step", dying_step)
        with pytest.raises(KeyboardInterrupt):
            pretrain.pretrain(run_spec(), digits, preset, tmp_path / "dev", progress=False)
        monkeypatch.setattr(torch.optim.SGD, "step", original)
        pretrain.pretrain(run_spec(), digits, preset, tmp_path / "dev", progress=False)
    timing = ["wall_time", "log_seconds", "device"]
    a, b = (pd.read_csv(tmp_path / d / "metrics.csv") for d in ("cpu", "dev"))
    assert set(a.device) == {"cpu"} and set(b.device) == {"meta"}
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))
    assert json.loads((tmp_path / "dev" / "config.json").read_text())["device"] == "meta"
    fa, fb = (torch.load(tmp_path / d / "final.pt", weights_only=True) for d in ("cpu", "dev"))
    assert all(torch.equal(fa[k], fb[k]) for k in fa)


def fewshot_inputs(digits, tmp_path) -> tuple[RunSpec, torch.nn.Module, dict, Path]:
    spec = run_spec(task="source")
    torch.manual_seed(0)
    model = training.model_for(spec, digits)
    episodes = sample_episodes(digits.view("target", "all").y.numpy(), FEWSHOT)
    src = tmp_path / "metrics.csv"
    pd.DataFrame(
        {"split": ["train"], "step": [6], "gc": [1.0], "nc": [2.0]}
        | {"geometric_collapse": [3.0], "cdnv_max": [4.0]}
    ).to_csv(src, index=False)
    return spec, model, episodes, src


def test_fewshot_on_device(pretend, digits, tmp_path):
    spec, model, episodes, src = fewshot_inputs(digits, tmp_path)
    tables = []
    for m in (model, on_device(model)):
        torch.manual_seed(5)  # the fine-tuning heads
        tables.append(evaluate_transfer(m, spec, digits, episodes, FEWSHOT, METRICS, 30, src, "ok"))
    assert set(tables[0].classifier) == {"ncm", "logreg", "finetune"}
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_sampling_study_on_device(pretend, digits):
    torch.manual_seed(0)
    model = training.model_for(run_spec(), digits)
    split = digits.view("full", "train")
    a = gc_sampling.sampling_study(model, split, SAMPLING_DEV)
    b = gc_sampling.sampling_study(on_device(model), split, SAMPLING_DEV)
    pd.testing.assert_frame_equal(a.drop(columns=UNTIMED), b.drop(columns=UNTIMED))


def test_sampling_study_computes_deterministic_levels_once(digits, monkeypatch):
    calls = []
    real = gc_sampling.embedding_gc
    monkeypatch.setattr(
        gc_sampling, "embedding_gc", lambda *a, **kw: calls.append(kw) or real(*a, **kw)
    )
    torch.manual_seed(0)
    model = training.model_for(run_spec(), digits)
    table = gc_sampling.sampling_study(model, digits.view("full", "train"), SAMPLING)
    # exact once; random levels (examples 10; entries, features, probes at 0.5; probes at 1.0)
    # every trial; the levels that keep everything (all 30 examples, all entries, all features)
    # are the exact GC itself and reuse it
    assert len(calls) == 1 + 5 * 2
    assert len(table) == 8 * 2 and (table.groupby(["axis", "level"]).size() == 2).all()
    fixed = table[((table.level == 1.0) & (table.axis != "hutchinson")) | (table.level == 30)]
    assert len(fixed) == 6 and (fixed.estimate == fixed.exact).all()
    assert (fixed.seconds == fixed.exact_seconds).all()
    random = table.drop(fixed.index)
    assert (random.estimate != random.exact).all()  # the sampled levels are estimates


def run_script(name: str, inputs: dict, params: dict, tmp_path: Path) -> pd.DataFrame:
    out = tmp_path / f"{name}_{params['device']}.csv"
    snakemake = SimpleNamespace(
        input=namedlist(**inputs),
        output=[str(out)],
        log=[str(tmp_path / f"{name}.log")],
        params=SimpleNamespace(**params),
    )
    runpy.run_path(str(SCRIPTS / f"{name}.py"), init_globals={"snakemake": snakemake})
    return pd.read_csv(out)


def script_inputs(
    name: str,
    digits,
    prepared_dir: Path,
    tmp_path: Path,
    sampling: dict,
    weights_device: str = "cpu",
) -> tuple[dict, dict]:
    """Inputs and params (all but the device) of the fewshot (one run of a dataset) or the
    gc_sampling script, with the model's weights saved from ``weights_device``."""
    spec, model, episodes, src = fewshot_inputs(digits, tmp_path)
    torch.save(copy.deepcopy(model).to(weights_device).state_dict(), tmp_path / "final.pt")
    save_episodes(tmp_path / "episodes.npz", episodes)
    (tmp_path / "summary.json").write_text(json.dumps({"status": "ok"}))
    data = [str(prepared_dir / "digits" / "arrays.npz")]
    inputs = {"final": str(tmp_path / "final.pt"), "data": data}
    inputs |= {"summary": str(tmp_path / "summary.json"), "metrics": str(src)}
    inputs |= {"episodes": str(tmp_path / "episodes.npz")}
    params = {"spec": spec.to_dict(), "fewshot": {**FEWSHOT, "finetune_steps": 0}}
    params |= {"metrics": METRICS, "eval_examples": 30, "sampling": sampling}
    if name == "fewshot":  # a list of runs per job
        inputs |= {k: [inputs[k]] for k in ("final", "summary", "metrics")}
        params["specs"] = [params.pop("spec")]
    return inputs, params


@pytest.mark.parametrize("name", ["fewshot", "gc_sampling"])
def test_workflow_scripts_run_on_the_preset_device(
    name, digits, prepared_dir, tmp_path, monkeypatch
):
    inputs, params = script_inputs(name, digits, prepared_dir, tmp_path, SAMPLING_DEV)
    module, fn = (
        (fewshot, "evaluate_transfer") if name == "fewshot" else (gc_sampling, "sampling_study")
    )
    seen, loads, real, real_load = [], [], getattr(module, fn), torch.load
    monkeypatch.setattr(
        module, fn, lambda m, *a: seen.append(next(m.parameters()).device) or real(m, *a)
    )
    monkeypatch.setattr(torch, "load", lambda *a, **kw: loads.append(kw) or real_load(*a, **kw))
    cpu = run_script(name, inputs, {**params, "device": "cpu"}, tmp_path)
    with PretendDevice():
        dev = run_script(name, inputs, {**params, "device": "meta"}, tmp_path)
    assert seen == [torch.device("cpu"), DEVICE]
    assert loads and all(kw.get("map_location") is not None for kw in loads)
    untimed = [c for c in UNTIMED if c in cpu.columns]
    pd.testing.assert_frame_equal(cpu.drop(columns=untimed), dev.drop(columns=untimed))
