"""Learning-path slope ||grad_theta L||^2 on a batch (the paper's flatness measure, Section 4.2)."""

from __future__ import annotations

import torch
from torch import nn


def path_slope(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Squared norm of the gradient of the mean cross-entropy with respect to all parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    with torch.enable_grad():
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, params)
    return float(sum(g.double().pow(2).sum() for g in grads))
