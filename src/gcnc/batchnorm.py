"""BatchNorm statistics recomputed on the training set, in a copy of the model.

A network trained with small batches carries running BatchNorm statistics that are exponential
averages over noisy minibatches, taken while the weights were still moving. Measured in eval
mode, its embedding (and so NC) depends on those statistics as much as on the weights. The
copy returned here has them recomputed for the final weights: every BatchNorm layer's running
mean and variance reset, then averaged with equal weight over train-mode forward passes of the
whole training set (``momentum=None``, PyTorch's cumulative average; "precise BN" in Wu &
Johnson, 2021). The model passed in is never changed: measurement stays read-only.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

BATCH = 256  # examples per forward pass of the recalibration


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def recalibrated(model: nn.Module, x: torch.Tensor, batch_size: int = BATCH) -> nn.Module:
    """A copy of ``model`` in eval mode whose BatchNorm running statistics are the cumulative
    average over forward passes of ``x`` (the training inputs) in batches of ``batch_size``;
    a model without BatchNorm comes back as an unchanged copy."""
    twin = copy.deepcopy(model)
    layers = [m for m in twin.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None  # cumulative moving average: every batch weighs the same
    if layers:
        twin.train()
        device = next((p.device for p in twin.parameters()), x.device)
        for chunk in torch.tensor_split(x, -(-len(x) // batch_size)):  # no batch of one
            twin(chunk.to(device))
    return twin.eval()
