"""gcnc: geometric complexity (GC) and neural collapse (NC) in transfer learning.

A reference implementation of Munn, Dherin & Gonzalvo, "The Impact of Geometric Complexity on
Neural Collapse in Transfer Learning" (NeurIPS 2024). Modules map to the paper:

- :mod:`gcnc.data` - dataset preparation (Section 5 class splits, synthetic ground truth)
- :mod:`gcnc.models` - embedding network f followed by a linear head g (Section 4)
- :mod:`gcnc.training` - SGD pretraining with optional explicit GC regularisation (App. A.5.6)
- :mod:`gcnc.metrics` - embedding GC, CDNV/NC, geometric collapse (Eq. 7), NC1-NC4
- :mod:`gcnc.poincare` - Poincare-constant estimation (Section 4.1)
- :mod:`gcnc.bounds` - Propositions 4.1, 4.3 and 5.1 evaluated term by term
- :mod:`gcnc.fewshot` - N-way K-shot transfer on unseen classes (Section 5, Fig. 4)
- :mod:`gcnc.figures` - every figure of the paper, and the claims report
- :mod:`gcnc.provenance` - sidecars and the audit of every figure
"""

__version__ = "0.1.0"
