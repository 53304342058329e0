"""Names a reader knows, for the config's ids: "Fashion-MNIST" for ``fashion_mnist_quick``,
"VGG, width 8" for ``vgg_small``. The one mapping every figure title, label and caption uses
(light: :mod:`gcnc.study.figures.plan` reads it at parse time, without matplotlib)."""

from __future__ import annotations

from typing import Any

DATASET_NAME = {
    "digits": "digits (8\u00d78)",
    "gaussians": "Gaussian classes",
    "gaussians_mixtures": "Gaussian mixtures",
    "uniform_boxes": "uniform boxes",
    "mnist": "MNIST",
    "fashion_mnist": "Fashion-MNIST",
    "fashion_mnist_quick": "Fashion-MNIST",
    "fashion_mnist_quick_related": "Fashion-MNIST, related split",
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "cifar_fs": "CIFAR-FS",
    "mini_imagenet": "mini-ImageNet",
}
SYNTHETIC_KINDS = {"gaussians", "uniform_boxes"}  # dataset kinds we generate (not the paper's)
ARCH_NAME = {
    "mlp": "MLP",
    "cnn": "CNN",
    "vgg_small": "VGG",
    "vgg11": "VGG-11",
    "vgg13": "VGG-13",
    "vgg16": "VGG-16",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
}
# the small models' default widths (gcnc.models.build_model), printed with their names
DEFAULT_WIDTH = {"mlp": 128, "cnn": 16, "vgg_small": 8}


def dataset_name(dataset: str) -> str:
    """'Fashion-MNIST' for fashion_mnist and fashion_mnist_quick; an unknown id as it is."""
    return DATASET_NAME.get(dataset, dataset)


def arch_name(arch: str, model: dict[str, Any] | None = None) -> str:
    """'VGG, width 8' (the small models with their width), 'VGG-13'; options as words
    ('VGG, width 8, no BatchNorm')."""
    model = dict(model or {})
    parts = [ARCH_NAME.get(arch, arch)]
    width = model.pop("width", DEFAULT_WIDTH.get(arch))
    if width is not None:
        parts.append(f"width {width}")
    if "batchnorm" in model:
        parts.append("BatchNorm" if model.pop("batchnorm") else "no BatchNorm")
    parts += [f"{k} {v}" for k, v in sorted(model.items())]
    return ", ".join(parts)


def setting_name(dataset: str, arch: str, model: dict[str, Any] | None = None) -> str:
    """'VGG, width 8 on Fashion-MNIST'."""
    return f"{arch_name(arch, model)} on {dataset_name(dataset)}"
