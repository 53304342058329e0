"""FLOPs, aten-op counts and retained activation bytes of a model's forward pass, training step,
input VJP and GC-penalty probe, counted with ``torch.utils.flop_counter`` on the meta device
(shapes only; 2 FLOPs per multiply-add; BatchNorm, ReLU, pooling not counted): the inputs of the
cost model of :mod:`gcnc.study.theory.compute`."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from gcnc.models import build_model
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.sgd import train_loss

# name: (train, test examples, input shape, classes, source classes, target classes)
DATASETS: dict[str, tuple[int, int, tuple[int, ...], int, int, int]] = {
    "mnist": (60000, 10000, (1, 28, 28), 10, 10, 0),
    "fashion_mnist": (60000, 10000, (1, 28, 28), 10, 5, 5),
    "cifar10": (50000, 10000, (3, 32, 32), 10, 10, 0),
    "cifar100": (50000, 10000, (3, 32, 32), 100, 100, 0),
    "cifar_fs": (50000, 10000, (3, 32, 32), 100, 64, 20),
    "mini_imagenet": (50000, 10000, (3, 84, 84), 100, 64, 20),
}


class _NoTracker(contextlib.nullcontext):
    parents = ("Global",)


class _Counter(FlopCounterMode):
    """FlopCounterMode without its module tracker, whose hooks reject ``autograd.grad`` on a leaf
    (the GC VJPs and the penalty); the counting rules are FlopCounterMode's own."""

    def __init__(self) -> None:
        super().__init__(display=False)
        self.mod_tracker = _NoTracker()  # type: ignore[assignment]


class _OpCounter(TorchDispatchMode):
    """Counts dispatched aten ops (each a kernel launch or a dispatcher round trip)."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.ops += 1
        return func(*args, **(kwargs or {}))


def _count(fn: Any) -> tuple[float, int]:
    with _Counter() as flops, _OpCounter() as ops:
        fn()
    return float(flops.get_total_flops()), ops.ops


@dataclass(frozen=True)
class ModelCost:
    """Counted costs of one model; FLOPs per example, ops per pass (any batch size)."""

    input_shape: tuple[int, ...]
    embed_dim: int
    n_params: int
    n_state: int  # floats in the state dict (parameters, BatchNorm statistics)
    forward: float  # embedding + head
    train: float  # cross-entropy forward + backward (all parameter gradients)
    vjp: float  # one input VJP of the embedding through a retained graph
    penalty_probe: float  # per GC-penalty probe (VJP with create_graph, double backward)
    saved_bytes: float  # activations an embedding forward retains (GPU stacked copies)
    ops_forward: int
    ops_train: int  # forward, backward and a foreach SGD step
    ops_vjp: int
    ops_penalty_probe: int


@lru_cache(maxsize=64)
def model_cost(arch: str, input_shape: tuple[int, ...], n_classes: int, **kw: int) -> ModelCost:
    """Count :class:`ModelCost` on the meta device at batch 2 (BatchNorm needs two examples).
    The GC penalty of k probes is modelled as k x the cost of the second probe; the rest (the
    first layer's input gradient) is < 1% of a forward pass of the paper's models."""
    b = 2
    with torch.device("meta"):
        model = build_model(arch, tuple(input_shape), n_classes, **kw)
        x, y = torch.empty(b, *input_shape), torch.zeros(b, dtype=torch.long)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def step(gc_reg: float, probes: int) -> None:
        train_loss(model, x, y, gc_reg, probes, torch.Generator())[1].backward()

    def saved(n: int) -> int:
        kept: dict[int, torch.Tensor] = {}

        def pack(t: torch.Tensor) -> torch.Tensor:
            kept[id(t)] = t
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            model.embed(torch.empty(n, *input_shape, device="meta").requires_grad_(True))
        return sum(t.numel() * t.element_size() for t in kept.values())

    model.eval()
    f_fwd, o_fwd = _count(forward)
    xs = x.clone().requires_grad_(True)
    out = model.embed(xs)
    f_vjp, o_vjp = _count(lambda: torch.autograd.grad(out, xs, torch.ones_like(out)))
    model.train()
    f_tr, o_tr = _count(lambda: step(0.0, 1))
    f_p1, o_p1 = _count(lambda: step(1.0, 1))
    f_p2, o_p2 = _count(lambda: step(1.0, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, foreach=True)
    opt.step()  # the first step creates the momentum buffers
    return ModelCost(
        input_shape=tuple(input_shape),
        embed_dim=model.embed_dim,
        n_params=sum(p.numel() for p in model.parameters()),
        n_state=sum(v.numel() for v in model.state_dict().values() if v.is_floating_point()),
        forward=f_fwd / b,
        train=f_tr / b,
        vjp=f_vjp / b,
        penalty_probe=(f_p2 - f_p1) / b,
        saved_bytes=(saved(4) - saved(2)) / 2,
        ops_forward=o_fwd,
        ops_train=o_tr + _count(opt.step)[1],
        ops_vjp=o_vjp,
        ops_penalty_probe=o_p2 - o_p1,
    )


def spec_cost(spec: RunSpec) -> ModelCost:
    """:func:`model_cost` of a run's model on its dataset and task."""
    _, _, shape, n_classes, n_source, _ = DATASETS[spec.dataset]
    return model_cost(
        spec.arch, shape, n_source if spec.task == "source" else n_classes, **spec.model
    )
