"""Which function draws which figure kind, and the entry point the figure rule calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import seaborn as sns

from gcnc.study.figures.bound import render_bound
from gcnc.study.figures.common import FONTS, RC
from gcnc.study.figures.controls import render_controls
from gcnc.study.figures.finetune import render_finetune
from gcnc.study.figures.sampling import render_gc_sampling
from gcnc.study.figures.sweeps import render_learning_curves, render_sweep
from gcnc.study.figures.transfer import render_transfer

Renderer = Callable[[dict[str, Any], list[str], str, str, str], str]
RENDERERS: dict[str, Renderer] = {
    "sweep": render_sweep,
    "controls": render_controls,
    "learning_curves": render_learning_curves,
    "gc_sampling": render_gc_sampling,
    "bound": render_bound,
    "transfer": render_transfer,
    "finetune": render_finetune,
}


def renderer(plan: dict[str, Any]) -> Renderer:
    """The function that draws a planned figure (for provenance: its module is the figure's
    code)."""
    try:
        return RENDERERS[plan["kind"]]
    except KeyError:
        raise ValueError(f"unknown figure kind '{plan['kind']}'") from None


def render(plan: dict[str, Any], inputs: list[str], pdf: str, png: str, csv: str) -> str:
    """Draw one planned figure (see :func:`figure_plan`); returns its caption: the plan's (what
    the paper ran, what ran here, what is drawn) with what the bands mean and what the data
    show."""
    sns.set_theme(context="paper", style="whitegrid", rc=RC | FONTS)
    return renderer(plan)(plan, inputs, pdf, png, csv)
