"""The embedding f of a network h = g o f (paper Section 4: f is the penultimate layer, the input
of the linear head g), as a module that GC can differentiate and put in eval mode.

:func:`resolve_embedding` takes

- ``embed=None`` (a network): the input of its final ``nn.Linear``, the Linear whose output *is*
  the network's output, found in one forward pass in eval mode with a hook on every Linear. This
  is the head of torchvision's ResNet and RegNet (``fc``), VGG, MobileNet, EfficientNet and
  ConvNeXt (the last Linear of ``classifier``), DenseNet (``classifier``), ViT (``heads.head``),
  Swin (``head``) and of this project's models (``gcnc.models.EmbedClassifier.head``), all
  tested, and of any other network that ends with a Linear;
- ``embed="layer.name"``: the output of that submodule (``network.get_submodule``), which must
  run once per forward pass and give (examples, features);
- ``embed=callable``: x -> features, used as is; ``head=`` then gives the logits, if any;
- a network that is not an ``nn.Module`` (any callable) is taken as the embedding itself.

Hooks are registered for one forward pass and removed when it ends, also on an error, so the
network is left as it was found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gcnc.metrics.gc import eval_mode
from gcnc.metrics.inputs import check_embedding_output


def network_device(*modules: Any) -> torch.device:
    """The device of the first parameter or buffer of the first ``nn.Module`` among ``modules``
    (the CPU when none has any)."""
    for m in modules:
        if isinstance(m, nn.Module):
            for t in (*m.parameters(), *m.buffers()):
                return t.device
    return torch.device("cpu")


def network_dtype(*modules: Any) -> torch.dtype | None:
    """The dtype of the first floating parameter among ``modules`` (None if there is none)."""
    for m in modules:
        if isinstance(m, nn.Module):
            for t in m.parameters():
                if t.is_floating_point():
                    return t.dtype
    return None


class _Tap(nn.Module):
    """f(x) = the input (``side="input"``) or output of ``layer`` during ``network(x)``."""

    def __init__(self, network: nn.Module, layer: nn.Module, side: str, description: str) -> None:
        super().__init__()
        self.network = network
        self._layer = [layer]  # a list: not registered twice as a submodule
        self.side, self.description = side, description

    def forward_both(self, x: torch.Tensor) -> tuple[Any, Any]:
        """The tapped tensor and the network's output of one forward pass."""
        seen: list[Any] = []

        def hook(_module: nn.Module, inputs: tuple, output: Any) -> None:
            seen.append(inputs[0] if self.side == "input" else output)

        handle = self._layer[0].register_forward_hook(hook)
        try:
            out = self.network(x)
        finally:
            handle.remove()
        if len(seen) != 1:
            raise ValueError(
                f"embed: {self.description} ran {len(seen)} times in one forward pass; name a "
                "layer that runs once, or pass embed=<callable>"
            )
        return seen[0], out

    def forward(self, x: torch.Tensor) -> Any:
        return self.forward_both(x)[0]


class _Callable(nn.Module):
    """f(x) = ``fn(x)``; ``network`` and ``head`` (those that are modules) are registered so that
    measuring puts them in eval mode and restores their modes afterwards."""

    def __init__(self, fn: Callable[[torch.Tensor], Any], network: Any, head: Any) -> None:
        super().__init__()
        self.fn = fn
        self.network = network if isinstance(network, nn.Module) else None
        self.head = head if isinstance(head, nn.Module) else None

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(x)


@dataclass
class Embedding:
    """The embedding f as a module (for GC), the linear head g whose input f is (for NC3; None
    when unknown), how the logits are obtained, and a description for the results."""

    module: nn.Module
    head: nn.Linear | None
    logits_from: Callable[[torch.Tensor], torch.Tensor] | None
    description: str

    def features_and_logits(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """f(x), checked to be (examples, features), and the logits (None without a head)."""
        if isinstance(self.module, _Tap):
            f, out = self.module.forward_both(x)
            check_embedding_output(f, f"embed ({self.description})")
            return f, out if isinstance(out, torch.Tensor) and out.dim() == 2 else None
        f = self.module(x)
        check_embedding_output(f, f"embed ({self.description})")
        return f, self.logits_from(f) if self.logits_from is not None else None


def _final_linear(network: nn.Module, probe: torch.Tensor) -> tuple[str, nn.Linear]:
    """(name, module) of the Linear whose output is ``network(probe)``, in eval mode; else a
    ValueError saying why (no Linear, or an output computed after the last Linear, as by a
    log_softmax) and which ``embed=`` to pass."""
    outputs: dict[str, Any] = {}  # every module's output, in the order the modules finished
    linear_inputs: dict[str, Any] = {}
    linears = {n: m for n, m in network.named_modules() if isinstance(m, nn.Linear)}

    def record(name: str, module: nn.Module, inputs: tuple, output: Any) -> None:
        outputs[name] = output
        if isinstance(module, nn.Linear):
            linear_inputs[name] = inputs[0]

    handles = [
        m.register_forward_hook(lambda mod, i, o, n=n: record(n, mod, i, o))
        for n, m in network.named_modules()
        if n
    ]
    try:
        with eval_mode(network), torch.no_grad():
            out = network(probe)
    finally:
        for h in handles:
            h.remove()
    found = [n for n in linears if outputs.get(n) is out]
    if found:
        return found[0], linears[found[0]]
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    ran = [n for n in outputs if n in linears]
    if not ran:
        raise ValueError(
            f"model: no nn.Linear ran in the forward pass (output {shape}; Linear layers: "
            f"{sorted(linears)[:8] or 'none'}); pass embed='<layer name>', or embed=<callable> "
            "(embed=model when the model is the embedding itself)"
        )
    last = ran[-1]
    feeders = [n for n, o in outputs.items() if o is linear_inputs[last] and n not in linears]
    fix = f"embed='{feeders[-1]}' (the layer that feeds it), " if feeders else ""
    raise ValueError(
        f"model: the network's output {shape} is computed after its last nn.Linear, '{last}' "
        "(e.g. by a log_softmax or softmax), not by an nn.Linear, so the head is not found; "
        f"pass {fix}embed=<callable>, or embed=model when the model is the embedding itself"
    )


def resolve_embedding(
    model: Any, embed: str | Callable | None, head: Any, probe: torch.Tensor
) -> Embedding:
    """The :class:`Embedding` of ``model`` (see the module docstring); ``probe``: a few inputs
    on the model's device for finding the final Linear."""
    if head is not None:
        if not callable(head):
            raise TypeError(f"head: expected a callable (an nn.Linear), got {type(head).__name__}")
        embedding_is_callable = (
            embed is None
            if not isinstance(model, nn.Module)
            else (embed is not None and not isinstance(embed, str))
        )
        if not embedding_is_callable:
            raise ValueError("head: give it only with an embedding callable (embed=<callable>)")
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(f"model: expected an nn.Module or a callable, got {type(model)}")
        if embed is not None:
            raise ValueError("embed: model is already a callable embedding; pass one of them")
        embed, model = model, None
    if embed is None:
        name, linear = _final_linear(model, probe)
        description = f"input of '{name}' ({linear.in_features} -> {linear.out_features})"
        return Embedding(_Tap(model, linear, "input", description), linear, None, description)
    if isinstance(embed, str):
        try:
            layer = model.get_submodule(embed)
        except AttributeError:
            raise ValueError(f"embed: the model has no layer named '{embed}'") from None
        description = f"output of '{embed}' ({type(layer).__name__})"
        return Embedding(_Tap(model, layer, "output", description), None, None, description)
    if not callable(embed):
        raise TypeError(f"embed: expected a layer name or a callable, got {type(embed).__name__}")
    description = getattr(embed, "__qualname__", type(embed).__name__)
    linear = head if isinstance(head, nn.Linear) else None
    return Embedding(_Callable(embed, model, head), linear, head, f"{description} (callable)")
