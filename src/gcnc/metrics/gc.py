"""Embedding geometric complexity (Dherin et al. 2022; paper Section 3).

    GC(f; Q) = E_{x~Q} ||grad_x f(x)||_F^2,     <f, S>_G = 1/|S| sum_{x in S} ||grad_x f(x)||_F^2

with the Jacobian of the embedding f with respect to the (normalised) network input, no 1/p or 1/d
factor. The exact value costs min(p, d) Jacobian-vector products over the batch: p reverse-mode
VJPs (one per embedding coordinate) or d forward-mode JVPs (one per input coordinate). The cheap
estimators are the sampling axes of the paper's Fig. 2 (examples, Jacobian entries, embedding
features, each rescaled to stay unbiased) and Hutchinson's trace estimator (one VJP per probe).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn
from torch.func import jvp

ESTIMATORS = ("exact", "hutchinson")
JVP_COST = 2.0  # cost of one forward-mode JVP relative to one reverse-mode VJP (measured)


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """BatchNorm and dropout in eval mode while measuring; the previous mode is restored."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def _reverse_sq_norms(embed: nn.Module, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """||grad_x f_a(x_i)||^2 for every example i and embedding coordinate a in ``coords``.

    One batched VJP (backward pass through the retained graph) per coordinate; exact per example
    because, in eval mode, the examples of a batch do not interact. Shape (n, len(coords)).
    """
    x = x.detach().requires_grad_(True)
    out_sq = torch.zeros(x.shape[0], len(coords), dtype=torch.float64, device=x.device)
    with torch.enable_grad():
        out = embed(x)
        for i, a in enumerate(coords.tolist()):
            (g,) = torch.autograd.grad(out[:, a].sum(), x, retain_graph=i < len(coords) - 1)
            out_sq[:, i] = g.flatten(1).pow(2).sum(1).double()
    return out_sq


def _forward_sq_norms(embed: nn.Module, x: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """sum_{b in coords} (d f_a / d x_b)^2 for every example and embedding coordinate a.

    One JVP per input coordinate b. Shape (n, p).
    """
    x = x.detach()
    tangent = torch.zeros_like(x).flatten(1)
    out_sq = None
    for b in coords.tolist():
        tangent.zero_()
        tangent[:, b] = 1.0
        _, col = jvp(embed, (x,), (tangent.view_as(x),))
        sq = col.detach().flatten(1).double().pow(2)
        out_sq = sq if out_sq is None else out_sq + sq
    return out_sq


def _hutchinson_sq_norms(
    embed: nn.Module, x: torch.Tensor, n_probes: int, generator: torch.Generator | None
) -> torch.Tensor:
    """Per-example mean over Rademacher probes v of ||v^T J||^2, unbiased for ||J||_F^2."""
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = embed(x)
        total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
        for i in range(n_probes):
            v = _rademacher(out.shape, generator, out.device, out.dtype)
            (g,) = torch.autograd.grad(out, x, grad_outputs=v, retain_graph=i < n_probes - 1)
            total += g.flatten(1).pow(2).sum(1).double()
    return total / n_probes


def _rademacher(shape, generator, device, dtype) -> torch.Tensor:
    bits = torch.randint(0, 2, shape, generator=generator, device="cpu").to(device)
    return (2 * bits - 1).to(dtype)


def _subset(n: int, fraction: float | None, generator: torch.Generator | None) -> torch.Tensor:
    if fraction is None or fraction >= 1.0:
        return torch.arange(n)
    k = max(1, math.ceil(fraction * n))
    return torch.randperm(n, generator=generator)[:k].sort().values


def per_example_gc(
    embed: nn.Module,
    x: torch.Tensor,
    estimator: str = "exact",
    *,
    n_probes: int = 16,
    input_fraction: float | None = None,
    feature_fraction: float | None = None,
    generator: torch.Generator | None = None,
    chunk_size: int = 256,
) -> torch.Tensor:
    """||grad_x f(x_i)||_F^2 for every row x_i of ``x`` (float64, shape (n,)), f in eval mode.

    ``exact`` picks forward mode (d JVPs) when ``JVP_COST * d < p`` and reverse mode (p VJPs)
    otherwise; a JVP costs about twice a VJP in PyTorch on the CPU (BENCHMARKS.md).
    ``input_fraction`` keeps a random subset of Jacobian columns (input entries; forward mode) and
    ``feature_fraction`` a random subset of rows (embedding features; reverse mode), each rescaled
    by the inverse fraction actually kept so the estimate stays unbiased. ``hutchinson`` uses
    ``n_probes`` Rademacher probes.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown GC estimator '{estimator}'; choose one of {ESTIMATORS}")
    if estimator == "hutchinson" and (input_fraction or feature_fraction):
        raise ValueError("input_fraction / feature_fraction apply to the exact estimator only")
    if input_fraction and feature_fraction:
        raise ValueError("sample either Jacobian entries (input) or features, not both at once")
    if x.shape[0] == 0:
        raise ValueError("per_example_gc needs at least one example")
    d = math.prod(x.shape[1:])
    with eval_mode(embed), torch.no_grad():
        p = embed(x[:1]).shape[1]
    rows, cols = None, None
    if feature_fraction is not None:
        rows = _subset(p, feature_fraction, generator)
    elif input_fraction is not None:
        cols = _subset(d, input_fraction, generator)
    elif estimator == "exact":
        rows, cols = (None, torch.arange(d)) if JVP_COST * d < p else (torch.arange(p), None)
    parts = []
    with eval_mode(embed):
        for chunk in x.split(chunk_size):
            if estimator == "hutchinson":
                parts.append(_hutchinson_sq_norms(embed, chunk, n_probes, generator))
            elif rows is not None:
                parts.append(_reverse_sq_norms(embed, chunk, rows).sum(1) * (p / len(rows)))
            else:
                parts.append(_forward_sq_norms(embed, chunk, cols).sum(1) * (d / len(cols)))
    return torch.cat(parts)


def per_feature_gc(embed: nn.Module, x: torch.Tensor, chunk_size: int = 256) -> torch.Tensor:
    """Exact ||grad_x f_a(x_i)||^2 for every example i and embedding coordinate a, shape (n, p).

    Rows sum to :func:`per_example_gc`; column means are the GC of each single feature f_a, the
    denominator of the Poincare ratio Var(f_a) / E||grad f_a||^2 along a feature direction.
    """
    d = math.prod(x.shape[1:])
    with eval_mode(embed), torch.no_grad():
        p = embed(x[:1]).shape[1]
    parts = []
    with eval_mode(embed):
        for chunk in x.split(chunk_size):
            if JVP_COST * d < p:
                parts.append(_forward_sq_norms(embed, chunk, torch.arange(d)))
            else:
                parts.append(_reverse_sq_norms(embed, chunk, torch.arange(p)))
    return torch.cat(parts)


def embedding_gc(
    embed: nn.Module,
    x: torch.Tensor,
    estimator: str = "exact",
    *,
    n_examples: int | None = None,
    generator: torch.Generator | None = None,
    **sampling,
) -> float:
    """Empirical embedding GC <f, S>_G (paper Section 3): mean over rows of x of ||J_f(x)||_F^2.

    ``n_examples`` averages over a random subset of that many rows (Fig. 2, left); the remaining
    keyword arguments go to :func:`per_example_gc` (Fig. 2, middle and right; Hutchinson).
    """
    if n_examples is not None and n_examples < x.shape[0]:
        x = x[torch.randperm(x.shape[0], generator=generator)[:n_examples]]
    return float(per_example_gc(embed, x, estimator, generator=generator, **sampling).mean())


def gc_penalty(
    embed: nn.Module, x: torch.Tensor, n_probes: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Differentiable Hutchinson estimate of the batch GC, for the explicit regulariser.

    Loss = CE + lambda * <f, B>_G on the current batch B (App. A.5.6), by double backpropagation
    through the input Jacobian. Evaluated in the module's current mode (train mode during
    training, where BatchNorm couples the examples of the batch).
    """
    x = x.detach().requires_grad_(True)
    out = embed(x)
    total = x.new_zeros(())
    for _ in range(n_probes):
        v = _rademacher(out.shape, generator, out.device, out.dtype)
        (g,) = torch.autograd.grad(out, x, grad_outputs=v, create_graph=True)
        total = total + g.flatten(1).pow(2).sum(1).mean()
    return total / n_probes
