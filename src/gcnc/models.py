"""Models h = g o f: an embedding network f (input -> penultimate features) and a linear head g;
the units and skip branch of Li et al.'s layer / SCL fine-tuning (:func:`transfer_units`,
:class:`SkipBranch`, :class:`TransferNet`; used by :mod:`gcnc.study.transfer.finetune`).

The embedding is exactly the input of the linear head, as in Section 4 of the paper. VGG and ResNet
reuse torchvision's configurations and blocks, with CIFAR-style stems for small inputs (3x3 first
convolution, no stem max-pool; ceil-mode pooling so 28x28, 32x32 and 84x84 inputs all work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

ARCHS = ("mlp", "cnn", "vgg_small", "vgg11", "vgg13", "vgg16", "resnet18", "resnet50")
VGG_CFG = {"vgg11": "A", "vgg13": "B", "vgg16": "D"}


class EmbedClassifier(nn.Module):
    """h(x) = head(embed(x)); ``embed`` is the paper's f, ``head`` its linear g."""

    def __init__(self, embed: nn.Module, embed_dim: int, n_classes: int) -> None:
        super().__init__()
        self.embed = embed
        self.embed_dim = embed_dim
        self.head = nn.Linear(embed_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def _mlp(shape: tuple[int, ...], width: int, embed_dim: int) -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(math.prod(shape), width),
        nn.ReLU(),
        nn.Linear(width, embed_dim),
        nn.ReLU(),
    )


def _cnn(shape: tuple[int, ...], width: int, embed_dim: int) -> nn.Module:
    c, h, w = shape
    pooled = math.ceil(math.ceil(h / 2) / 2) * math.ceil(math.ceil(w / 2) / 2)
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2, ceil_mode=True),
        nn.Flatten(),
        nn.Linear(2 * width * pooled, embed_dim),
        nn.ReLU(),
    )


def _vgg_layers(
    cfg: list[int | str], in_channels: int, batchnorm: bool = True
) -> tuple[nn.Module, int]:
    """VGG body: 3x3 convolution + BatchNorm (unless ``batchnorm`` is false, as in Simonyan &
    Zisserman's original) + ReLU per number, 2x2 max-pool per "M", then global average pooling;
    the embedding dimension is the last block's channel count."""
    layers: list[nn.Module] = []
    channels = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        else:
            norm = [nn.BatchNorm2d(int(v))] if batchnorm else []
            layers += [nn.Conv2d(channels, int(v), 3, padding=1), *norm, nn.ReLU()]
            channels = int(v)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(*layers), channels


def _vgg(arch: str, in_channels: int, batchnorm: bool) -> tuple[nn.Module, int]:
    from torchvision.models.vgg import cfgs as vgg_cfgs  # on demand: torchvision costs ~1.5 s

    return _vgg_layers(vgg_cfgs[VGG_CFG[arch]], in_channels, batchnorm)


def _vgg_small(in_channels: int, width: int, batchnorm: bool) -> tuple[nn.Module, int]:
    """The VGG family shrunk for CPUs: four conv(-BN)-ReLU blocks of width w, 2w, 4w, 4w with
    three max-pools (28x28 -> 4x4), embedding dimension 4w."""
    cfg: list[int | str] = [width, "M", 2 * width, "M", 4 * width, "M", 4 * width]
    return _vgg_layers(cfg, in_channels, batchnorm)


def _resnet(arch: str, in_channels: int) -> tuple[nn.Module, int]:
    from torchvision.models import resnet18, resnet50  # on demand: torchvision costs ~1.5 s

    net = (resnet18 if arch == "resnet18" else resnet50)()
    net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
    body = nn.Sequential(
        net.conv1,
        net.bn1,
        net.relu,
        net.layer1,
        net.layer2,
        net.layer3,
        net.layer4,
        net.avgpool,
        nn.Flatten(),
    )
    return body, net.fc.in_features


def build_model(
    arch: str,
    input_shape: tuple[int, ...],
    n_classes: int,
    embed_dim: int | None = None,
    width: int | None = None,
    batchnorm: bool | None = None,
) -> EmbedClassifier:
    """Build ``arch`` for inputs of ``input_shape`` (without batch axis) and ``n_classes`` outputs.

    ``embed_dim`` and ``width`` size the small CPU models (``mlp``: 128 hidden, 64-d embedding;
    ``cnn``: 16 channels, 128-d embedding; ``vgg_small``: width 8, 32-d embedding); the large
    models have their standard widths. ``batchnorm`` (VGG family only; default true): false
    builds the convolutions without BatchNorm.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture '{arch}'; choose one of {ARCHS}")
    if batchnorm is not None and not arch.startswith("vgg"):
        raise ValueError(f"'{arch}': the batchnorm option applies to the VGG family only")
    bn = True if batchnorm is None else bool(batchnorm)
    if arch == "mlp":
        p = embed_dim or 64
        return EmbedClassifier(_mlp(input_shape, width or 128, p), p, n_classes)
    if len(input_shape) != 3:
        raise ValueError(f"'{arch}' needs image inputs (C, H, W), got shape {input_shape}")
    if arch == "cnn":
        p = embed_dim or 128
        return EmbedClassifier(_cnn(input_shape, width or 16, p), p, n_classes)
    if arch == "vgg_small":
        if embed_dim:
            raise ValueError("'vgg_small' has embedding dimension 4 * width; set width only")
        body, p = _vgg_small(input_shape[0], width or 8, bn)
        return EmbedClassifier(body, p, n_classes)
    if embed_dim or width:
        raise ValueError(f"'{arch}' has a fixed width; embed_dim/width apply to mlp and cnn only")
    if arch.startswith("vgg"):
        body, p = _vgg(arch, input_shape[0], bn)
    else:
        body, p = _resnet(arch, input_shape[0])
    return EmbedClassifier(body, p, n_classes)


@dataclass
class Unit:
    """A unit that layer fine-tuning trains (Li et al. Sec. 4, App. B; docs/paper.md section 9):
    the modules whose parameters it trains, and ``tap``, the module whose output is the
    unit's output (the input of the SCL skip branch)."""

    name: str
    modules: list[nn.Module]
    tap: nn.Module

    def parameters(self) -> list[nn.Parameter]:
        return [p for m in self.modules for p in m.parameters()]


def transfer_units(arch: str, embed: nn.Module) -> list[Unit]:
    """The units of ``embed`` (a model of :func:`build_model`) in forward order, one per stage,
    as Li et al. take them (Tables 3-5): the first residual block of each ResNet stage (R18 blocks
    1, 3, 5, 7; R50 blocks 1, 4, 8, 14), the first conv-BN-ReLU of each VGG stage (stages end at a
    max-pool), each conv / linear layer with its ReLU for ``cnn`` and ``mlp``."""
    layers = list(embed.children())
    if arch in ("resnet18", "resnet50"):
        units, seen = [], 0
        for stage in layers[3:7]:  # layer1..layer4 of torchvision's ResNet
            blocks = list(stage.children())
            units.append(Unit(f"block{seen + 1}", [blocks[0]], blocks[0]))
            seen += len(blocks)
        return units
    units, count, new_stage = [], 0, True
    for i, layer in enumerate(layers):
        if isinstance(layer, nn.MaxPool2d):
            new_stage = True
        if not isinstance(layer, (nn.Conv2d, nn.Linear)):
            continue
        count += 1
        kind = "conv" if isinstance(layer, nn.Conv2d) else "fc"
        relu = next(j for j in range(i + 1, len(layers)) if isinstance(layers[j], nn.ReLU))
        if arch.startswith("vgg"):
            if new_stage:
                units.append(Unit(f"conv{count}", layers[i:relu], layers[relu]))
            new_stage = False
        else:
            units.append(Unit(f"{kind}{count}", [layer], layers[relu]))
    return units


class SkipBranch(nn.Module):
    """Li et al.'s skip connection layer (Fig. 7, App. B): AdaptiveAvgPool to 1x1, a 1x1
    convolution (no bias) from the unit's C_unit channels to the penultimate width C_pen, then
    BatchNorm; its output is added to the penultimate features. C_unit C_pen + 2 C_pen parameters.
    A unit with flat (N, C) output (an MLP layer) is read as (N, C, 1, 1)."""

    def __init__(self, c_unit: int, c_pen: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv2d(c_unit, c_pen, 1, bias=False)
        self.bn = nn.BatchNorm2d(c_pen)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        u = u[:, :, None, None] if u.dim() == 2 else u
        return self.bn(self.conv(self.pool(u))).flatten(1)


def scl_trainable_params(unit_params: int, c_unit: int, c_pen: int, n_classes: int) -> int:
    """Trainable parameters of SCL FT: the unit, the 1x1 convolution, BatchNorm's scale and shift,
    and the new classifier: params(unit) + C_unit C_pen + 2 C_pen + (C_pen + 1) K."""
    return unit_params + c_unit * c_pen + 2 * c_pen + (c_pen + 1) * n_classes


class TransferNet(nn.Module):
    """A pretrained embedding with a new linear classifier and, for SCL FT, a skip branch from
    ``tap`` (the tuned unit's output module, ``c_unit`` channels) added to the penultimate
    features."""

    def __init__(
        self,
        embed: nn.Module,
        embed_dim: int,
        n_classes: int,
        tap: nn.Module | None = None,
        c_unit: int = 0,
    ) -> None:
        super().__init__()
        self.embed, self.head = embed, nn.Linear(embed_dim, n_classes)
        self.branch: SkipBranch | None = None
        self._tapped: list[torch.Tensor] = []
        if tap is not None:
            self.branch = SkipBranch(c_unit, embed_dim)
            tap.register_forward_hook(lambda _m, _i, o: self._tapped.append(o))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self._tapped.clear()
        f = self.embed(x)
        if self.branch is not None:
            f = f + self.branch(self._tapped.pop())
        return f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


@torch.no_grad()
def unit_channels(embed: nn.Module, tap: nn.Module, input_shape: tuple[int, ...]) -> int:
    """C_unit: the channels (dim 1) of ``tap``'s output on a dummy input, the model untouched
    (eval mode for the pass, its modes restored)."""
    seen: list[torch.Tensor] = []
    handle = tap.register_forward_hook(lambda _m, _i, o: seen.append(o))
    modes = [(m, m.training) for m in embed.modules()]
    embed.eval()
    try:
        embed(torch.zeros(2, *input_shape, device=next(embed.parameters()).device))
    finally:
        handle.remove()
        for m, was in modes:
            m.train(was)
    return int(seen[0].shape[1])
