"""The explicit GC regulariser (paper App. A.5.6): a differentiable Hutchinson estimate of the
batch GC <f, B>_G = 1/|B| sum_{x in B} ||J_f(x)||_F^2 (:mod:`gcnc.metrics.gc`), by double
backpropagation through the input Jacobian."""

from __future__ import annotations

import torch
from torch import nn

from gcnc.metrics.draws import rademacher
from gcnc.metrics.inputs import check_embedding_output, check_inputs, check_positive_int


def gc_penalty(
    embed: nn.Module, x: torch.Tensor, n_probes: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Differentiable Hutchinson estimate of the batch GC, for the explicit regulariser.

    Loss = CE + lambda * <f, B>_G on the current batch B (App. A.5.6), by double backpropagation
    through the input Jacobian. Training uses :func:`embed_with_gc_penalty`, whose forward pass
    also gives the loss: a second train-mode pass would update BatchNorm statistics twice a step.
    """
    return embed_with_gc_penalty(embed, x, n_probes, generator)[1]


def embed_with_gc_penalty(
    embed: nn.Module, x: torch.Tensor, n_probes: int = 1, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings f(x) and the differentiable Hutchinson estimate of <f, B>_G from one forward
    pass in the module's current mode (train mode in training: BatchNorm couples the examples of
    the batch and updates its running statistics once). The penalty is the mean over examples
    and ``n_probes`` Rademacher probes v of ||v^T J_f(x_i)||^2; the probes are drawn on the CPU and
    moved to the embedding's device, so every device draws the same ones.
    """
    check_positive_int(n_probes, "n_probes")
    x = check_inputs(x, module=embed).detach().requires_grad_(True)
    out = embed(x)
    check_embedding_output(out, "embed")
    total = x.new_zeros(())
    for _ in range(n_probes):
        v = rademacher(out.shape, generator, out.device, out.dtype)
        (g,) = torch.autograd.grad(out, x, grad_outputs=v, create_graph=True)
        total = total + g.flatten(1).pow(2).sum(1).mean()
    return out, total / n_probes
