"""Every figure and table of the paper, rendered from the preset's tables (matplotlib).

Each figure is at most 6.75 in wide with every text at least 7 pt at that size, written as PDF
(Type 42 fonts) and 300-dpi PNG together with a CSV of exactly the plotted data; its short title
names the network and data as people do ("VGG, width 8 on Fashion-MNIST"), and its caption (the
plan's, completed by the renderer and recorded in the sidecar) says what the paper ran, what ran
here, what the bands mean and what the data show. One module per figure family:

- :mod:`gcnc.study.figures.plan`: which figures a preset draws (:func:`figure_plan`,
:func:`table_plan`)
- :mod:`gcnc.study.figures.sweeps`: Fig. 1, App. A.5 (other settings, learning curves), App. A.5.6
- :mod:`gcnc.study.figures.controls`: Fig. 1's sweeps at the end of training per training protocol
- :mod:`gcnc.study.figures.sampling`: Fig. 2 (GC under sampling, and its cost)
- :mod:`gcnc.study.figures.bound`: Fig. 3 (Prop. 4.3 bound vs nearest-class-mean error)
- :mod:`gcnc.study.figures.transfer`: Fig. 4 and App. A.5.5 (transfer)
- :mod:`gcnc.study.figures.tables`: the Poincare-constant, bound and terminal-phase tables
- :mod:`gcnc.study.figures.common`: sizes and fonts, colours by regularisation strength, titles and
  captions, axes, saving (which checks size and fonts)
- :mod:`gcnc.study.figures.names`: the names readers know for the config's datasets and networks
"""

from __future__ import annotations

from typing import Any

from gcnc.study.figures.captions import table_plan  # light: the workflow plans at parse time
from gcnc.study.figures.plan import figure_plan

__all__ = ["figure_plan", "render", "render_table", "renderer", "table_plan"]
DRAWING = {"render": "draw", "renderer": "draw", "RENDERERS": "draw", "render_table": "tables"}


def __getattr__(name: str) -> Any:
    """The drawing functions, imported on first use: planning (Snakemake parses the workflow on
    every call) never pays for matplotlib and seaborn."""
    if name not in DRAWING:
        raise AttributeError(f"module 'gcnc.study.figures' has no attribute '{name}'")
    from importlib import import_module

    return getattr(import_module(f"gcnc.study.figures.{DRAWING[name]}"), name)
