"""README's central-claims tables are read from the presets' claims.csv and plan.csv."""

from __future__ import annotations

import pandas as pd

from gcnc.study.claims.central import CENTRAL, central_columns, central_table
from gcnc.study.publish.readme import central_blocks, splice_central, table_columns
from tests.markdown_tables import rendered_tables

LR_NC = "higher learning rate lowers NC"


def _write(root, preset: str, groups: list[str], value: float) -> None:
    """A preset whose Fig. 1 dataset has ``groups``; LR -> NC has ``value`` in each."""
    (root / "paper_figures" / preset).mkdir(parents=True)
    (root / "results" / preset).mkdir(parents=True)
    rows = [
        dict(claim=LR_NC, study=g, kind="paper", note="", effect=value, p_adj=0.004)
        | dict(effect_low=value - 0.2, effect_high=min(value + 0.2, 1.0), verdict="not reproduced")
        for g in groups
    ]
    rows.append(
        dict(claim=CENTRAL[0][0], study=groups[0], kind="paper", effect=float("nan"))
        | dict(note="not testable: exact (best attainable p 0.22)", p_adj=float("nan"))
        | dict(effect_low=float("nan"), effect_high=float("nan"), verdict="inconclusive")
    )
    pd.DataFrame(rows).to_csv(root / "paper_figures" / preset / "claims.csv", index=False)
    plan = [dict(study="fig1", dataset="fm", group=g) for g in groups]
    plan.append(dict(study="x", dataset="gaussians", group="gaussians x mlp (cosine LR, 9 steps)"))
    pd.DataFrame(plan).to_csv(root / "results" / preset / "plan.csv", index=False)


def test_one_group_per_preset_is_labelled_by_the_preset(tmp_path):
    _write(tmp_path, "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    _write(tmp_path, "standard", ["fm x vgg[width=16] (cosine LR, 15000 steps)"], 0.5)
    table = central_table(central_columns(["quick", "standard"], tmp_path))
    rows = {r[0]: r[1:] for r in rendered_tables(table)[0][1:]}
    assert rendered_tables(table)[0][0] == ["claim", "quick", "standard"]
    assert rows["higher LR lowers NC"] == [
        "**NO** 0.96 [0.76, 1.00] p=0.004",
        "**NO** 0.50 [0.30, 0.70] p=0.004",
    ]
    assert rows["higher LR lowers GC"] == ["too few runs", "too few runs"]
    assert rows["GC penalty lowers NC"] == ["not run", "not run"]
    assert len(rows) == len(CENTRAL)


def test_several_groups_are_labelled_by_how_they_trained(tmp_path):
    groups = [
        "fm x vgg (cosine LR, 1500 steps)",
        "fm x vgg[batchnorm=False] (cosine LR, 1500 steps)",
    ]
    _write(tmp_path, "controls", groups, -0.3)
    _write(tmp_path, "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    columns = central_columns(["controls"], tmp_path)
    assert list(columns) == ["cosine LR, 1500 steps", "cosine LR, 1500 steps, batchnorm=False"]
    assert [group for _, group in columns.values()] == groups
    both = central_columns(["quick", "controls"], tmp_path)  # presets named where needed
    assert list(both) == ["quick", *(f"controls: {label}" for label in columns)]
    alone = central_columns(["controls"], tmp_path, name_presets=True)  # a block's only results
    assert list(alone) == [f"controls: {label}" for label in columns]


def test_splice_refreshes_blocks_from_the_presets_with_results_and_names_the_others(tmp_path):
    _write(tmp_path, "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    readme = (
        "a\n<!-- central:quick -->\nold\n<!-- /central:quick -->\n"
        "b\n<!-- central:quick+standard -->\nkept\n<!-- /central:quick+standard -->\nc\n"
    )
    assert central_blocks(readme) == [["quick"], ["quick", "standard"]]
    out, incomplete = splice_central(readme, tmp_path)
    assert incomplete == ["central:quick+standard (standard not run here)"]
    assert "kept" not in out and "old" not in out and out.count("**NO** 0.96") == 2
    assert "`standard`: no results in this checkout yet" in out
    assert out.endswith("<!-- /central:quick+standard -->\nc\n")
    assert splice_central(out, tmp_path)[0] == out
    nothing = "<!-- central:standard -->\nkept\n<!-- /central:standard -->\n"
    unchanged = (nothing, ["central:standard (standard not run here)"])
    assert splice_central(nothing, tmp_path) == unchanged


def test_splice_keeps_the_columns_of_a_preset_not_run_here(tmp_path):
    """A fresh clone has quick's results but not standard's (hours to run): `make readme` there
    refreshes quick's columns and keeps the standard columns README recorded."""
    groups = ["fm x vgg (cosine LR, 15000 steps)", "fm x vgg (cosine LR, 5000 steps)"]
    _write(tmp_path / "ran", "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    _write(tmp_path / "ran", "standard", groups, -0.5)
    block = "<!-- central:quick+standard -->\nx\n<!-- /central:quick+standard -->\n"
    recorded, _ = splice_central(block, tmp_path / "ran")
    standard = {h: c for h, c in table_columns(recorded.splitlines()).items() if "standard" in h}
    labels = ["standard: cosine LR, 15000 steps", "standard: cosine LR, 5000 steps"]
    assert list(standard) == labels
    assert standard[labels[1]]["higher LR lowers NC"] == "**NO** -0.50 [-0.70, -0.30] p=0.004"

    _write(tmp_path / "fresh", "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.3)
    out, incomplete = splice_central(recorded, tmp_path / "fresh")
    columns = table_columns(out.splitlines())
    assert incomplete == ["central:quick+standard (standard not run here)"]
    assert columns["quick"]["higher LR lowers NC"] == "**NO** 0.30 [0.10, 0.50] p=0.004"
    assert {h: c for h, c in columns.items() if h != "quick"} == standard
    assert "`standard`: columns kept from this README" in out
    assert splice_central(out, tmp_path / "fresh")[0] == out


def test_table_columns_reads_back_what_central_table_writes(tmp_path):
    _write(tmp_path, "quick", ["fm x vgg (cosine LR, 1500 steps)"], 0.96)
    columns = central_columns(["quick"], tmp_path)
    columns["a | b"] = columns["quick"]  # a pipe in a label stays in its cell
    read = table_columns(central_table(columns).splitlines())
    assert list(read) == ["quick", "a \\| b"]
    assert read["quick"]["higher LR lowers NC"] == "**NO** 0.96 [0.76, 1.00] p=0.004"
    assert len(read["quick"]) == len(CENTRAL)
