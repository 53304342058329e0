"""A pretend accelerator for device tests without a GPU.

:class:`Pretend` tensors hold real CPU data but report device ``meta`` (a ``cuda`` device would
trip CUDA initialisation inside autograd). Every op runs on the CPU data, so values equal CPU
values bit for bit, and an op that mixes a pretend tensor with a plain tensor of dim > 0 raises
"device mismatch", as CUDA does (stricter for CPU index tensors, which CUDA moves itself);
0-dim CPU tensors are allowed, as on CUDA, and so are copies between the devices. Inside
:class:`PretendDevice`, factory ops and ``.to()`` asked for ``meta`` give pretend tensors, so
``torch.device("meta")`` plays the accelerator for code under test. Not supported: the
``torch.func`` transforms (``jvp`` crashes on wrapper subclasses).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

DEVICE = torch.device("meta")
_CROSS_DEVICE = {torch.ops.aten.copy_.default, torch.ops.aten._to_copy.default}


class Pretend(torch.Tensor):
    """A CPU tensor that claims to live on the pretend device."""

    __torch_function__ = torch._C._disabled_torch_function_impl

    @staticmethod
    def __new__(cls, data: torch.Tensor) -> Pretend:
        out = torch.Tensor._make_wrapper_subclass(
            cls, data.shape, strides=data.stride(), dtype=data.dtype, device=DEVICE,
            storage_offset=data.storage_offset(), requires_grad=data.requires_grad,
        )  # fmt: skip
        out.data_ = data.detach()
        return out

    def __repr__(self) -> str:
        return f"Pretend({self.data_!r})"

    def __reduce_ex__(self, protocol):  # torch.save writes the CPU data, like a .cpu() copy
        return self.data_.__reduce_ex__(protocol)

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        plain = [t for t in flat if isinstance(t, torch.Tensor) and not isinstance(t, Pretend)]
        if func not in _CROSS_DEVICE and any(t.dim() > 0 for t in plain):
            raise RuntimeError(f"device mismatch in {func}: pretend-device and {plain[0].device}")
        to_cpu = kwargs.get("device") == torch.device("cpu")
        if kwargs.get("device") == DEVICE:
            kwargs = {**kwargs, "device": torch.device("cpu")}
        inner = {id(_unwrap(t)): t for t in flat if isinstance(t, torch.Tensor)}
        out = func(*tree_map(_unwrap, args), **tree_map(_unwrap, kwargs))
        if to_cpu:
            return out
        # an in-place op returns its own argument; other results are new pretend tensors
        return tree_map(lambda t: inner[id(t)] if id(t) in inner else _wrap(t), out)


def _unwrap(t):
    return t.data_ if isinstance(t, Pretend) else t


def _wrap(t):
    return Pretend(t) if isinstance(t, torch.Tensor) and not isinstance(t, Pretend) else t


class _Literals(TorchFunctionMode):
    """``torch.tensor`` / ``torch.as_tensor`` skip the dispatcher's factory ops."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = kwargs.get("device")
        if func in (torch.tensor, torch.as_tensor) and device and torch.device(device) == DEVICE:
            return Pretend(func(*args, **{**kwargs, "device": "cpu"}))
        return func(*args, **kwargs)


class PretendDevice(TorchDispatchMode):
    """Factory ops, tensor literals and copies asked for the pretend device (``meta``) make
    pretend tensors; a CPU generator for the pretend device raises, as for CUDA."""

    def __enter__(self):
        self._literals = _Literals().__enter__()
        return super().__enter__()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        return self._literals.__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        flat, _ = tree_flatten((args, kwargs))
        if kwargs.get("device") != DEVICE or any(isinstance(t, Pretend) for t in flat):
            return func(*args, **kwargs)
        gen = kwargs.get("generator")
        if gen is not None and gen.device.type == "cpu":
            raise RuntimeError(f"device mismatch in {func}: CPU generator for the pretend device")
        return tree_map(_wrap, func(*args, **{**kwargs, "device": torch.device("cpu")}))


def to_pretend(module: nn.Module) -> nn.Module:
    """Move a module's parameters and buffers to the pretend device (call inside PretendDevice)."""
    return module.to(DEVICE)
