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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.func import jvp

from gcnc.constants import JVP_COST
from gcnc.metrics.draws import keyed_rademacher, rademacher, tiled_coordinates
from gcnc.metrics.gc_penalty import embed_with_gc_penalty, gc_penalty  # noqa: F401 (training)
from gcnc.metrics.inputs import (
    check_embedding_output,
    check_gc_options,
    check_inputs,
    check_positive_int,
)

GPU_ACTIVATION_BYTES = 8 * 2**30  # activations of stacked copies per backward pass on a GPU

OnProducts = Callable[[int], None]  # told the Jacobian products (examples x VJPs or JVPs) just done


@contextmanager
def eval_mode(module: nn.Module) -> Iterator[nn.Module]:
    """BatchNorm and dropout in eval mode while measuring; the previous mode of every submodule
    is restored (also a mixed one, e.g. BatchNorm frozen in a network that is training)."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, training in modes:
            m.training = training


def _vjp_sq_norms(
    embed: nn.Module,
    x: torch.Tensor,
    cotangents: Callable[[int, torch.Tensor], torch.Tensor],
    k: int,
    vjp_batch: int = 1,
    on_products: OnProducts | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """||v_j(x_i)^T J_f(x_i)||^2 for every example i and j < k, and the embeddings f(x).

    One forward pass, then batched VJPs (backward passes through the retained graph) with the
    cotangents ``cotangents(j, f(x))``, one row per example; exact per example because, in eval
    mode, the examples of a batch do not interact. With ``vjp_batch`` m > 1 the forward pass runs
    on m stacked copies of x and copy c takes the cotangents of VJP j + c, so one backward pass
    does m VJPs with the network's own batched kernels: m times the activation memory, no gain on
    a CPU, large on a GPU that one small batch leaves idle (BENCHMARKS.md). Shape (n, k).
    """
    n = x.shape[0]
    passes = math.ceil(k / vjp_batch)
    m = math.ceil(k / passes)  # as even as possible: no pass wasted on padding rows
    xs = x.detach().repeat(m, *[1] * (x.dim() - 1)).requires_grad_(True)
    out_sq = torch.zeros(n, k, dtype=torch.float64, device=x.device)
    with torch.enable_grad():
        out = embed(xs)
        first = out[:n].detach()
        for start in range(0, k, m):
            stop = min(k, start + m)
            v = torch.cat([cotangents(j, first) for j in range(start, stop)])
            rows = v.shape[0]
            v = torch.cat([v, v.new_zeros(out.shape[0] - rows, v.shape[1])])
            (g,) = torch.autograd.grad(out, xs, grad_outputs=v, retain_graph=stop < k)
            sq = g[:rows].flatten(1).pow(2).sum(1).view(stop - start, n)
            out_sq[:, start:stop] = sq.T.double()
            if on_products is not None:
                on_products(n * (stop - start))
    return out_sq, first


def _reverse_sq_norms(
    embed: nn.Module,
    x: torch.Tensor,
    coords: torch.Tensor,
    vjp_batch: int,
    on_products: OnProducts | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """||grad_x f_a(x_i)||^2 for every example i and embedding coordinate a = coords[i, j]: the
    cotangent of VJP j selects coordinate coords[i, j] for example i, so each example may use its
    own coordinates at no extra cost. Shape (n, coords.shape[1]), and the embeddings f(x)."""

    def one_hot(j: int, out: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(out).scatter_(1, coords[:, j : j + 1], 1.0)

    return _vjp_sq_norms(embed, x, one_hot, coords.shape[1], vjp_batch, on_products)


def _forward_sq_norms(
    embed: nn.Module, x: torch.Tensor, coords: torch.Tensor, on_products: OnProducts | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_j (d f_a / d x_b)^2, b = coords[i, j], for every example i and embedding coordinate a.

    One JVP per column j of ``coords``, whose tangent selects input coordinate coords[i, j] for
    example i. Returns shape (n, p) and the embeddings f(x).
    """
    x = x.detach()
    out, out_sq = None, None
    for j in range(coords.shape[1]):
        tangent = torch.zeros_like(x).flatten(1).scatter_(1, coords[:, j : j + 1], 1.0)
        out, col = jvp(embed, (x,), (tangent.view_as(x),))
        sq = col.detach().flatten(1).double().pow(2)
        out_sq = sq if out_sq is None else out_sq + sq
        if on_products is not None:
            on_products(x.shape[0])
    return out_sq, out.detach()


def _hutchinson_sq_norms(
    embed: nn.Module,
    x: torch.Tensor,
    n_probes: int,
    generator: torch.Generator | None,
    vjp_batch: int,
    keys: list[int] | None = None,
    on_products: OnProducts | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-example mean over Rademacher probes v of ||v^T J||^2, unbiased for ||J||_F^2, and
    the embeddings f(x). The probes come from ``generator`` in the order of the batch, or with
    ``keys`` (one per example) from a generator seeded with the example's key, so that an
    example's probes do not depend on the batch it is in (:func:`keyed_rademacher`)."""
    signs: list[torch.Tensor] = []

    def probe(j: int, out: torch.Tensor) -> torch.Tensor:
        if keys is None:
            return rademacher(out.shape, generator, out.device, out.dtype)
        if not signs:
            signs.append(keyed_rademacher(keys, n_probes, out.shape[1]))
        return signs[0][:, j].to(device=out.device, dtype=out.dtype)

    sq, out = _vjp_sq_norms(embed, x, probe, n_probes, vjp_batch, on_products)
    return sq.mean(1), out


def exact_mode(p: int, d: int) -> tuple[bool, int]:
    """(forward mode?, Jacobian products per example) of exact GC for an embedding of width p on
    inputs of d values: d JVPs when ``JVP_COST * d < p`` (a JVP costs about twice a VJP in
    PyTorch on the CPU, BENCHMARKS.md), else p VJPs."""
    forward = JVP_COST * d < p
    return forward, d if forward else p


def gc_terms(
    embed: nn.Module,
    x: torch.Tensor,
    estimator: str = "exact",
    *,
    per_feature: bool = False,
    n_probes: int = 16,
    input_fraction: float | None = None,
    feature_fraction: float | None = None,
    generator: torch.Generator | None = None,
    chunk_size: int = 512,
    vjp_batch: int | None = None,
    probe_keys: list[int] | None = None,
    on_products: OnProducts | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared Jacobian norms of f at the rows of ``x`` and the embeddings f(x), in eval mode.

    The first tensor is ||grad_x f(x_i)||_F^2 per example (float64, shape (n,)) or, with
    ``per_feature`` (exact only), ||grad_x f_a(x_i)||^2 per example and feature (shape (n, p));
    the second is f(x) from the same forward pass, so a caller that needs both pays for one.

    ``exact`` picks forward mode (d JVPs) or reverse mode (p VJPs) by :func:`exact_mode`.
    ``input_fraction`` keeps a random subset of Jacobian columns (input entries; forward mode) and
    ``feature_fraction`` a random subset of rows (embedding features; reverse mode), rescaled by
    the inverse fraction kept so every example's estimate stays unbiased. Each example has its
    own subset at the cost of one shared subset (one JVP / VJP per kept coordinate), and the
    subsets of a batch tile a random permutation (:func:`gcnc.metrics.draws.tiled_coordinates`),
    which cancels the spread between coordinates in the batch mean: one subset shared by all
    examples had 4-7% error at a fraction of 1/8, this design 0.2% (BENCHMARKS.md).
    ``hutchinson`` uses ``n_probes`` Rademacher probes, independent per example: drawn from
    ``generator`` in the order of the rows, or, with ``probe_keys`` (one integer per row,
    :func:`gcnc.metrics.draws.example_keys`), from the row's key, which makes each row's value
    independent of ``chunk_size`` and of the other rows. ``on_products`` is told the Jacobian
    products done after each backward pass or JVP (progress).

    ``vjp_batch`` cotangents share one backward pass through that many stacked copies of the
    batch (reverse mode and Hutchinson; see ``_vjp_sq_norms``); by default one on a CPU and as
    many as fit a memory budget on a GPU (:func:`default_vjp_batch`).
    """
    check_gc_options(
        estimator,
        n_probes=n_probes,
        input_fraction=input_fraction,
        feature_fraction=feature_fraction,
        per_feature=per_feature,
        vjp_batch=vjp_batch,
        chunk_size=chunk_size,
    )
    x = check_inputs(x, module=embed)
    if probe_keys is not None and len(probe_keys) != x.shape[0]:
        raise ValueError(f"probe_keys: {len(probe_keys)} keys for {x.shape[0]} rows of x")
    d = math.prod(x.shape[1:])
    with eval_mode(embed), torch.no_grad():
        probe = embed(x[:1])
    check_embedding_output(probe, "embed")
    p = probe.shape[1]
    if feature_fraction is not None:
        forward, fraction = False, feature_fraction
    elif input_fraction is not None:
        forward, fraction = True, input_fraction
    else:
        forward, fraction = exact_mode(p, d)[0], None
    norms, feats = [], []
    with eval_mode(embed):
        reverse = estimator == "hutchinson" or not forward
        n_vjp = vjp_batch or (default_vjp_batch(embed, x[:chunk_size]) if reverse else 1)
        for start in range(0, x.shape[0], chunk_size):
            chunk = x[start : start + chunk_size]
            if estimator == "hutchinson":
                keys = None if probe_keys is None else probe_keys[start : start + chunk_size]
                sq, out = _hutchinson_sq_norms(
                    embed, chunk, n_probes, generator, n_vjp, keys, on_products
                )
            else:
                total = d if forward else p
                coords = tiled_coordinates(chunk.shape[0], total, fraction, generator)
                coords = coords.to(x.device)
                if forward:
                    sq, out = _forward_sq_norms(embed, chunk, coords, on_products)
                else:
                    sq, out = _reverse_sq_norms(embed, chunk, coords, n_vjp, on_products)
                sq = sq if per_feature else sq.sum(1) * (total / coords.shape[1])
            norms.append(sq)
            feats.append(out)
    return torch.cat(norms), torch.cat(feats)


def default_vjp_batch(embed: nn.Module, x: torch.Tensor) -> int:
    """Cotangents per backward pass (stacked copies of ``x``) for VJPs on the batch ``x``; an
    upper bound, as ``_vjp_sq_norms`` never stacks more copies than it has VJPs to do.

    1 on a CPU, where stacking gains nothing. On a GPU, as many copies as keep the activations
    that the forward pass retains within ``GPU_ACTIVATION_BYTES`` and a quarter of the available
    memory (free on the device or cached by PyTorch), measured on a forward pass of up to 8
    examples; 1.1-8.5x faster than one copy per pass (BENCHMARKS.md, GPU section).
    """
    if x.device.type != "cuda":
        return 1
    probe = x[:8].detach().requires_grad_(True)
    before = torch.cuda.memory_allocated(x.device)
    with torch.enable_grad():
        out = embed(probe)
        per_row = max(1, (torch.cuda.memory_allocated(x.device) - before) // probe.shape[0])
    del out
    cached = torch.cuda.memory_reserved(x.device) - torch.cuda.memory_allocated(x.device)
    available = torch.cuda.mem_get_info(x.device)[0] + cached
    budget = min(GPU_ACTIVATION_BYTES, available // 4)
    return int(max(1, budget // (per_row * x.shape[0])))


def per_example_gc(
    embed: nn.Module, x: torch.Tensor, estimator: str = "exact", **kwargs: Any
) -> torch.Tensor:
    """||grad_x f(x_i)||_F^2 for every row x_i of ``x`` (float64, shape (n,)), f in eval mode;
    the estimators and their keyword arguments are those of :func:`gc_terms`."""
    return gc_terms(embed, x, estimator, **kwargs)[0]


def per_feature_gc(embed: nn.Module, x: torch.Tensor, chunk_size: int = 512) -> torch.Tensor:
    """Exact ||grad_x f_a(x_i)||^2 for every example i and embedding coordinate a, shape (n, p).

    Rows sum to :func:`per_example_gc`; column means are the GC of each single feature f_a
    (which features carry the embedding's complexity).
    """
    return gc_terms(embed, x, per_feature=True, chunk_size=chunk_size)[0]


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
    x = check_inputs(x, module=embed)
    if n_examples is not None and check_positive_int(n_examples, "n_examples") < x.shape[0]:
        x = x[torch.randperm(x.shape[0], generator=generator)[:n_examples].to(x.device)]
    return float(per_example_gc(embed, x, estimator, generator=generator, **sampling).mean())
