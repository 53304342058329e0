"""Architectures: the small VGG used by the CPU presets, against a hand count of its parameters."""

import pytest
import torch

from gcnc.models import build_model


def _conv_bn(cin: int, cout: int) -> int:
    return (9 * cin + 1) * cout + 2 * cout  # 3x3 kernel + bias, BatchNorm weight + bias


@pytest.mark.parametrize("width, shape", [(8, (1, 28, 28)), (16, (3, 32, 32))])
def test_vgg_small_shapes_and_parameter_count(width, shape):
    model = build_model("vgg_small", shape, 5, width=width)
    w, c = width, shape[0]
    expected = (
        _conv_bn(c, w) + _conv_bn(w, 2 * w) + _conv_bn(2 * w, 4 * w) + _conv_bn(4 * w, 4 * w)
    ) + (4 * w + 1) * 5
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.embed_dim == 4 * w
    x = torch.randn(3, *shape)
    assert model.embed(x).shape == (3, 4 * w)
    assert model(x).shape == (3, 5)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 4


def test_vgg_small_rejects_embed_dim():
    with pytest.raises(ValueError, match="width only"):
        build_model("vgg_small", (1, 28, 28), 5, embed_dim=10)
