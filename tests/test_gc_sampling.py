"""The Fig. 2 sampling study (gcnc.study.theory.gc_sampling): a held-out reference disjoint from
the sampled
pool, the cost of each estimate in Jacobian-vector products, and an error when no examples are
left for the reference."""

from __future__ import annotations

import math

import pytest
import torch

from gcnc.metrics import embedding_gc
from gcnc.metrics.gc import JVP_COST
from gcnc.study.data.prepared import Split
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining import evaluation
from gcnc.study.pretraining import sgd as training
from gcnc.study.theory import gc_sampling

CFG = {
    "trials": 2,
    "eval_examples": 30,
    "example_counts": [10, 30],
    "input_fractions": [0.25],
    "feature_fractions": [0.5, 1.0],
    "heldout_examples": 50,
}


@pytest.fixture
def model(digits):
    torch.manual_seed(0)
    spec = RunSpec("digits", "mlp", "full", 0.05, 16, 0.0, 0.0, 0, 6, {"width": 16})
    return training.model_for(spec, digits)


def test_heldout_reference_is_disjoint_from_the_pool(model, digits):
    split = digits.view("full", "train")
    table = gc_sampling.sampling_study(model, split, CFG)
    pool = evaluation.eval_subset(split, 30, balanced=False)
    both = evaluation.eval_subset(split, 80, balanced=False)
    assert torch.equal(both.x[:30], pool.x)  # the pool is a prefix, the reference the rest
    held = both.x[30:]
    assert not (held[:, None] == pool.x[None]).flatten(2).all(2).any()
    assert table.heldout.iloc[0] == pytest.approx(embedding_gc(model.embed, held))
    assert (table.heldout_examples == 50).all() and (table.pool_examples == 30).all()
    assert (table.heldout_sem > 0).all()
    assert table.heldout.nunique() == 1 and table.exact.iloc[0] != table.heldout.iloc[0]


def test_each_estimate_records_its_products(model, digits):
    table = gc_sampling.sampling_study(model, digits.view("full", "train"), CFG)
    x = digits.view("full", "train").x[:1]
    p, d, n = model.embed(x).shape[1], math.prod(x.shape[1:]), 30
    assert JVP_COST * d >= p  # 8x8 digits: reverse mode is the cheaper exact route
    cost = table.groupby(["axis", "level"]).first()[["vjps", "jvps"]]
    assert tuple(cost.loc[("examples", 10)]) == (10 * p, 0)
    assert tuple(cost.loc[("examples", 30)]) == (n * p, 0)  # the whole pool: the exact GC
    assert tuple(cost.loc[("jacobian_entries", 0.25)]) == (0, n * math.ceil(0.25 * d))
    assert tuple(cost.loc[("features", 0.5)]) == (n * math.ceil(p / 2), 0)
    assert tuple(cost.loc[("hutchinson", 1.0)]) == (n * p, 0)


def test_exact_cost_takes_forward_mode_when_cheaper():
    assert gc_sampling._products({}, n=5, p=1000, d=10) == (0, 50)
    assert gc_sampling._products({"feature_fraction": 1.0}, n=5, p=1000, d=10) == (0, 50)
    assert gc_sampling._products({"n_examples": 2}, n=5, p=1000, d=10) == (0, 20)


def test_a_pool_covering_the_split_is_an_error(model, digits):
    split = digits.view("full", "train")
    small = Split(split.x[:31], split.y[:31])
    with pytest.raises(ValueError, match="eval_examples"):
        gc_sampling.sampling_study(model, small, CFG)
