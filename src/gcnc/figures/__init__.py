"""Every figure and table of the paper, rendered from the preset's tables (matplotlib).

Each figure is written as PDF (Type 42 fonts) and 300-dpi PNG together with a CSV of exactly the
plotted data, and carries a subtitle naming the dataset, architecture, training steps, seeds and
what its bands mean. One module per figure family:

- :mod:`gcnc.figures.plan`: which figures a preset draws (:func:`figure_plan`, :func:`table_plan`)
- :mod:`gcnc.figures.sweeps`: Fig. 1, App. A.5 (other settings, learning curves), App. A.5.6
- :mod:`gcnc.figures.sampling`: Fig. 2 (GC under sampling, and its cost)
- :mod:`gcnc.figures.bound`: Fig. 3 (Prop. 4.3 bound vs nearest-class-mean error)
- :mod:`gcnc.figures.transfer`: Fig. 4 and App. A.5.5 (transfer)
- :mod:`gcnc.figures.tables`: the Poincare-constant and bound tables
- :mod:`gcnc.figures.common`: colours by regularisation strength, subtitles, axes, saving
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import seaborn as sns

from gcnc.figures.bound import render_bound
from gcnc.figures.common import RC
from gcnc.figures.plan import figure_plan, table_plan
from gcnc.figures.sampling import render_gc_sampling
from gcnc.figures.sweeps import render_learning_curves, render_sweep
from gcnc.figures.tables import render_table
from gcnc.figures.transfer import render_transfer

__all__ = ["figure_plan", "render", "render_table", "renderer", "table_plan"]

Renderer = Callable[[dict[str, Any], list[str], str, str, str], None]
RENDERERS: dict[str, Renderer] = {
    "sweep": render_sweep,
    "learning_curves": render_learning_curves,
    "gc_sampling": render_gc_sampling,
    "bound": render_bound,
    "transfer": render_transfer,
}


def renderer(plan: dict[str, Any]) -> Renderer:
    """The function that draws a planned figure (for provenance: its module is the figure's
    code)."""
    try:
        return RENDERERS[plan["kind"]]
    except KeyError:
        raise ValueError(f"unknown figure kind '{plan['kind']}'") from None


def render(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> None:
    """Draw one planned figure (see :func:`figure_plan`)."""
    sns.set_theme(context="paper", style="whitegrid", rc=RC)
    renderer(plan)(plan, inputs, pdf, png, csv)
