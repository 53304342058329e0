"""The pieces of SGD pretraining shared by every job that builds or trains a model: the device,
the memory layout, the model of a run, its trained weights, and the training objective CE +
gc_reg * GC (App. A.5.6). The run itself (resumable, logged) is
:func:`gcnc.study.pretraining.pretrain.pretrain`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gcnc.metrics.gc import embed_with_gc_penalty
from gcnc.models import EmbedClassifier, build_model
from gcnc.study.data.prepared import Prepared
from gcnc.study.grid import RunSpec
from gcnc.study.pretraining.checkpoints import load_weights


def resolve_device(name: str) -> torch.device:
    """The torch device of a preset's ``device`` (``auto``: CUDA when available, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but CUDA is not available")
    return torch.device(name)


def memory_format(spec: RunSpec, device: torch.device, x: torch.Tensor) -> torch.memory_format:
    """channels_last for image runs on a CPU without the GC penalty: 1.3-1.5x faster training
    and exact GC there (BENCHMARKS.md), but 1.1-1.2x slower with the penalty's double backward;
    unmeasured on GPUs, so left alone there. A step agrees with the default layout to float
    rounding (over a run SGD amplifies the rounding, as with any change of summation order); a
    run always uses the same layout, so it stays deterministic and resumable."""
    image, cpu = x.dim() == 4, device.type == "cpu"
    return torch.channels_last if image and cpu and spec.gc_reg <= 0 else torch.contiguous_format


def model_for(spec: RunSpec, prepared: Prepared) -> EmbedClassifier:
    n_classes = len(prepared.classes(spec.task))
    return build_model(spec.arch, prepared.input_shape, n_classes, **spec.model)


def load_pretrained(
    spec: RunSpec, prepared: Prepared, weights: str | Path, device: str
) -> EmbedClassifier:
    """A run's trained model (its ``final.pt``) on the preset's ``device`` (``auto``: CUDA when
    present); prints the device chosen, for the job's log."""
    torch_device = resolve_device(device)
    model = model_for(spec, prepared).to(torch_device)
    model.load_state_dict(load_weights(weights))
    print(f"device: {torch_device}", flush=True)
    return model


def train_loss(
    model: EmbedClassifier,
    xb: torch.Tensor,
    yb: torch.Tensor,
    gc_reg: float,
    n_probes: int,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy on the minibatch and the training objective CE + gc_reg * <f, B>_G
    (App. A.5.6), from one forward pass in the model's current mode."""
    if gc_reg <= 0:
        loss = nn.functional.cross_entropy(model(xb), yb)
        return loss, loss
    feats, penalty = embed_with_gc_penalty(model.embed, xb, n_probes, generator)
    loss = nn.functional.cross_entropy(model.head(feats), yb)
    return loss, loss + gc_reg * penalty
