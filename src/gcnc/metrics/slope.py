"""Learning-path slope ||grad_theta L||^2 on a batch (the paper's flatness measure, Section 4.2)."""

from __future__ import annotations

import torch
from torch import nn

from gcnc.metrics.gc import eval_mode


def path_slope(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Squared norm of the gradient of the mean cross-entropy with respect to all parameters.

    A read-only measurement: the loss is evaluated in eval mode (BatchNorm uses, and does not
    update, its running statistics; dropout is off), every module's mode is restored afterwards,
    and the gradient is returned by ``autograd.grad``, never accumulated into ``.grad``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    with eval_mode(model), torch.enable_grad():
        loss = nn.functional.cross_entropy(model(x), y)
        grads = torch.autograd.grad(loss, params)
    return float(sum(g.double().pow(2).sum() for g in grads))
