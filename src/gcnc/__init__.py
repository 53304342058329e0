"""gcnc: geometric complexity (GC) and neural collapse (NC) in transfer learning.

A reference implementation of Munn, Dherin & Gonzalvo, "The Impact of Geometric Complexity on
Neural Collapse in Transfer Learning" (NeurIPS 2024), and a library to measure both in one's own
networks. The library needs torch (and torchvision for torchvision models and image folders):

- :func:`gcnc.measure` - one call: GC, NC, geometric collapse, NC1-NC4, ranks, accuracy of a
  network on a data set (:mod:`gcnc.measurement`); ``gcnc measure`` on the command line
- :class:`gcnc.Collapse` - the same metrics fed batch by batch from a training loop
  (``update``, ``compute``, ``reset``); docs/library.md shows both
- :mod:`gcnc.metrics` - embedding GC, CDNV/NC, geometric collapse (Eq. 7), NC1-NC4
- :mod:`gcnc.models` - embedding network f followed by a linear head g (Section 4)

The study (``pip install 'gcnc[study]'``, or ``make setup``) adds:

- :mod:`gcnc.study.data` - dataset preparation (Section 5 class splits, synthetic ground truth)
- :mod:`gcnc.study.pretraining.pretrain` - SGD pretraining with optional explicit GC regularisation
(App. A.5.6),
  logged by :mod:`gcnc.study.pretraining.evaluation`
- :mod:`gcnc.study.theory.poincare` - Poincare-constant estimation (Section 4.1)
- :mod:`gcnc.study.theory.bounds` - Propositions 4.1, 4.3 and 5.1 evaluated term by term
- :mod:`gcnc.study.transfer.fewshot` - N-way K-shot transfer on unseen classes (Section 5, Fig. 4)
- :mod:`gcnc.study.figures` - every figure of the paper, and the claims report
- :mod:`gcnc.study.results.provenance` - sidecars and the audit of every figure

``import gcnc`` stays light: :func:`measure`, :class:`Measurement` and :class:`Collapse` (and
torch with them) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_LAZY = {
    "measure": "gcnc.measurement",
    "Measurement": "gcnc.measurement",
    "Collapse": "gcnc.metrics.collapse_metric",
}

__all__ = ["Collapse", "Measurement", "__version__", "measure"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gcnc' has no attribute '{name}'")
