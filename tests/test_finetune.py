"""Li et al.'s fine-tuning study (gcnc.study.transfer.finetune, gcnc.metrics.stable_rank):
numerical rank against
brute-force SVD, the SCL branch against the reference's parameter formula, layer FT touching only
the unit and the classifier, and the linear probe on separable features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from gcnc.metrics.collapse import nc1, stable_rank
from gcnc.models import (
    SkipBranch,
    TransferNet,
    build_model,
    scl_trainable_params,
    transfer_units,
    unit_channels,
)
from gcnc.study.claims.finetune import finetune_claims, turn_position
from gcnc.study.claims.table import Claims
from gcnc.study.data.prepared import Split
from gcnc.study.transfer.finetune import build_transfer, fewshot_rows, fit, fit_probe


def brute_rank(f: torch.Tensor, y: torch.Tensor) -> float:
    """(1/K) sum_k ||H_k||_F^2 / sigma_max(H_k)^2 with a full SVD (Li et al. App. A.1)."""
    out = []
    for c in torch.unique(y):
        sv = torch.linalg.svdvals(f[y == c].double())
        out.append(float((sv**2).sum() / sv[0] ** 2))
    return float(np.mean(out))


def test_stable_rank_matches_svd_and_closed_forms():
    g = torch.Generator().manual_seed(0)
    k, n, d = 4, 50, 12
    y = torch.arange(k * n) % k
    # rank-one classes: every example a multiple of its class direction -> exactly 1
    dirs = torch.randn(k, d, generator=g, dtype=torch.float64)
    scale = torch.rand(k * n, generator=g, dtype=torch.float64) + 0.5
    ones = scale[:, None] * dirs[y]
    assert stable_rank(ones, y) == pytest.approx(1.0, rel=1e-9)
    # isotropic, not centred: about d (the finite-sample value, by SVD)
    iso = torch.randn(k * 4000, d, generator=g, dtype=torch.float64)
    y_iso = torch.arange(k * 4000) % k
    assert stable_rank(iso, y_iso) == pytest.approx(brute_rank(iso, y_iso), rel=1e-9)
    assert d * 0.75 < stable_rank(iso, y_iso) <= d
    # a mean far from the origin (not centred, as written) collapses it towards 1
    shifted = torch.randn(k * n, d, generator=g, dtype=torch.float64) + 20 * dirs[y]
    assert stable_rank(shifted, y) == pytest.approx(brute_rank(shifted, y), rel=1e-8)
    assert stable_rank(shifted, y) < 1.2
    # generic classes of known spectrum: sum s_i^2 / s_1^2
    q = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))[0]
    spectrum = torch.tensor([3.0, 2.0, 1.0] + [0.0] * (d - 3), dtype=torch.float64)
    u = torch.linalg.qr(torch.randn(n, d, generator=g, dtype=torch.float64))[0]
    h = u @ torch.diag(spectrum) @ q.T
    one = torch.zeros(n, dtype=torch.long)
    assert stable_rank(h, one) == pytest.approx((9 + 4 + 1) / 9, rel=1e-9)


def test_nc1_rtol_is_the_pseudo_inverse_tolerance():
    g = torch.Generator().manual_seed(1)
    y = torch.arange(60) % 3
    f = torch.randn(60, 5, generator=g, dtype=torch.float64) + 4 * torch.eye(5)[:3][y].double()
    assert nc1(f, y, rtol=1e-6) == pytest.approx(nc1(f, y))
    # a huge tolerance keeps only the top direction of Sigma_B: NC1 drops
    assert nc1(f, y, rtol=0.99) < nc1(f, y, rtol=1e-6)


@pytest.mark.parametrize("c_unit, c_pen, k, spatial", [(8, 32, 5, 7), (16, 64, 3, 1)])
def test_scl_branch_shapes_and_parameter_formula(c_unit, c_pen, k, spatial):
    branch = SkipBranch(c_unit, c_pen)
    out = branch(torch.randn(4, c_unit, spatial, spatial))
    assert out.shape == (4, c_pen)
    assert SkipBranch(c_unit, c_pen)(torch.randn(4, c_unit)).shape == (4, c_pen)  # flat units
    assert sum(p.numel() for p in branch.parameters()) == c_unit * c_pen + 2 * c_pen
    assert scl_trainable_params(100, c_unit, c_pen, k) == (
        100 + c_unit * c_pen + 2 * c_pen + (c_pen + 1) * k
    )


@pytest.mark.parametrize("arch, shape", [("vgg_small", (1, 12, 12)), ("mlp", (6,))])
def test_scl_ft_trains_unit_branch_and_head(arch, shape):
    torch.manual_seed(0)
    model = build_model(arch, shape, 4)
    k, c_pen = 3, model.embed_dim
    for unit in transfer_units(arch, model.embed):
        net, trained = build_transfer(model, arch, shape, "scl_ft", unit.name, k, seed=0)
        c_unit = unit_channels(model.embed, unit.tap, shape)
        n_unit = sum(p.numel() for p in unit.parameters())
        count = sum(p.numel() for m in trained for p in m.parameters() if p.requires_grad)
        assert count == scl_trainable_params(n_unit, c_unit, c_pen, k)
        assert net(torch.randn(5, *shape)).shape == (5, k)


def test_resnet_units_are_the_first_block_of_each_stage():
    for arch, names in (
        ("resnet18", ["block1", "block3", "block5", "block7"]),
        ("resnet50", ["block1", "block4", "block8", "block14"]),
    ):
        with torch.device("meta"):  # structure only: no weights initialised
            model = build_model(arch, (3, 8, 8), 2)
        assert [u.name for u in transfer_units(arch, model.embed)] == names


def test_resnet18_scl_branch_widths():
    model = build_model("resnet18", (3, 8, 8), 2)
    units = transfer_units("resnet18", model.embed)
    widths = [unit_channels(model.embed, u.tap, (3, 8, 8)) for u in units]
    assert widths == [64, 128, 256, 512]


def test_layer_ft_trains_exactly_the_unit_and_the_classifier():
    torch.manual_seed(0)
    shape = (1, 12, 12)
    model = build_model("vgg_small", shape, 4)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = torch.randn(40, *shape), torch.arange(40) % 3
    cfg = {"steps": 5, "lr": 0.1, "batch_size": 8, "weight_decay": 1e-3, "seed": 0}
    net, trained = build_transfer(model, "vgg_small", shape, "layer_ft", "conv2", 3, seed=0)
    start = {k: v.clone() for k, v in net.state_dict().items()}
    fit(net, trained, Split(x, y), cfg)
    trained_ids = {id(p) for m in trained for p in m.parameters() if p.requires_grad}
    names = {n for n, p in net.named_parameters() if id(p) in trained_ids}
    unit = {f"embed.{i}.{w}" for i in (4, 5) for w in ("weight", "bias")}  # conv + BatchNorm
    assert names == unit | {"head.weight", "head.bias"}
    for name, value in net.state_dict().items():
        if name in names:
            assert not torch.equal(value, start[name]), f"{name} did not train"
        elif not name.startswith("embed.5."):  # the unit's BatchNorm statistics may move
            assert torch.equal(value, start[name]), f"{name} changed"
    # the pretrained model itself is untouched (deep copy), modes included
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    assert model.training


def test_linear_probe_reaches_full_accuracy_on_separable_features():
    g = torch.Generator().manual_seed(0)
    k, d = 5, 8
    y = torch.arange(200) % k
    feats = torch.randn(200, d, generator=g) * 0.3 + 3 * torch.eye(d)[:k][y]
    net = TransferNet(torch.nn.Identity(), d, k)
    fit_probe(net.head, feats, y, l2=1e-4)
    assert float((net.head(feats).argmax(1) == y).float().mean()) == 1.0


def test_turn_position_finds_the_peak():
    x = np.logspace(-2, 2, 21)
    t = np.log10(x)
    acc = 0.9 - 0.05 * (t - 0.5) ** 2  # peak at log10 x = 0.5 -> (0.5 + 2) / 4 of the range
    assert turn_position("x", "a")({"x": x, "a": acc}) == pytest.approx(2.5 / 4)
    assert np.isnan(turn_position("x", "a")({"x": x, "a": 0.5 + 0.01 * t**2}))


def _table(runs: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for r in range(runs):
        src = 10 ** rng.uniform(-1, 1)
        common = dict(run_id=f"r{r}", dataset="d", arch="a", task="source", status="ok")
        common |= dict(source_nc1=src, source_gc=src / 10, seed=r)
        plan = [("linear_probe", "-", 0.6, 3.0, 10), ("layer_ft", "u1", 0.8, 1.0, 100)]
        plan += [("scl_ft", "u1", 0.85, 0.8, 150), ("full_ft", "-", 0.86, 0.5, 1000)]
        for mode, unit, acc, n1, params in plan:
            rows.append(
                common
                | dict(mode=mode, unit=unit, best=True, trainable_params=params)
                | dict(accuracy=acc + 0.01 * rng.standard_normal(), target_nc1=n1 * src)
            )
    return pd.DataFrame(rows)


def _plan(table: pd.DataFrame) -> pd.DataFrame:
    """Every run of ``table`` in one comparison group."""
    runs = table.drop_duplicates("run_id")
    return pd.DataFrame({"run_id": runs.run_id, "seed": runs.seed, "group": "d x a (source)"})


def test_finetune_claims_rows():
    c = Claims(seed=0, kinds={}, n_boot=50)
    finetune_claims(c, _table(8), _plan(_table(8)))
    table = c.table().set_index("claim")
    assert table.loc["SCL FT trains far fewer parameters than full FT", "verdict"] == "reproduced"
    assert table.loc["layer FT beats the linear probe (Li et al. C7, Table 2)", "verdict"] == (
        "reproduced"
    )
    row = table.loc["lower target NC1 gives higher accuracy across modes and units (Li et al. C8)"]
    assert row["verdict"] == "reproduced" and row["effect"] < -0.8 and row["kind"] == "extension"
    assert any("bridge" in claim for claim in table.index)
    empty = Claims(seed=0, kinds={}, n_boot=10)
    finetune_claims(empty, _table(0).reindex(columns=_table(1).columns), _plan(_table(1)))
    assert (empty.table().verdict == "inconclusive").all()


def test_fewshot_rows_carry_frozen_target_nc1():
    ft = _table(2).assign(target_nc1_before=1.5, stable_rank_before=2.0, embed_dim=8)
    fs = pd.DataFrame(
        {
            "run_id": ["r0", "r0", "r1", "r1"],
            "way": 5,
            "shot": 5,
            "classifier": ["ncm", "logreg"] * 2,
            "accuracy": [0.7, 0.8, 0.6, 0.7],
            "ci95": 0.01,
            "target_nc": 0.3,
        }
    )
    out = fewshot_rows(fs, ft)
    assert set(out["mode"]) == {"fewshot_ncm", "fewshot_logreg"}
    assert (out.target_nc1 == 1.5).all() and (out.target_cdnv == 0.3).all()
    assert out.loc[out["mode"] == "fewshot_logreg", "trainable_params"].eq(45).all()
