"""The MODEL of ``gcnc measure``: a torchvision model with its weights, or a run of this project's
study, refused with one line naming the argument and the file when it cannot be used. Weights
that do not fit the architecture are summarised (how many keys are missing, unexpected or of
another shape) and matched against torchvision's classification models, built without memory on
the ``meta`` device, to name the architecture they do fit. The data side is
:mod:`gcnc.measure_data`.
"""

from __future__ import annotations

import difflib
import json
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class MeasureInputError(ValueError):
    """A MODEL, DATA or option that ``gcnc measure`` cannot use; the message names it."""


def first_line(err: BaseException, limit: int = 200) -> str:
    """``Type: first line of the message``, at most ``limit`` characters."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the first ``nn.Conv2d`` of ``model`` (None without one)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else conv.in_channels


def _load(path: Path, what: str) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated zip, pickle garbage, another format
        raise MeasureInputError(
            f"{what}: cannot read {path} as weights saved by torch.save ({first_line(err)})"
        ) from None


def _state_dict(loaded: Any, path: Path, what: str) -> dict[str, torch.Tensor]:
    """The state dict in a weights file: the file itself, or its ``model`` / ``state_dict``."""
    for key in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not (isinstance(loaded, dict) and all(isinstance(v, torch.Tensor) for v in loaded.values())):
        raise MeasureInputError(f"{what}: {path} holds no state dict")
    return loaded


def _classes_of(state: dict[str, torch.Tensor], path: Path) -> int:
    """The output size of the last 2-D weight of a state dict (the classifier's)."""
    weights = [v for k, v in state.items() if k.endswith("weight") and v.dim() == 2]
    if not weights:
        raise MeasureInputError(f"--weights: {path} has no 2-D weight (no linear classifier)")
    return int(weights[-1].shape[0])


def _run_folder(path: Path) -> Path | None:
    """The study run folder of ``path`` (the folder, its final.pt, or a checkpoint)."""
    for folder in (path, path.parent, path.parent.parent):
        if (folder / "config.json").is_file():
            return folder
    return None


def load_study_model(path: Path, input_shape: tuple[int, ...]) -> tuple[nn.Module, str]:
    """A run of this project's study: its architecture from config.json, the number of classes
    from the head's weights, the weights from final.pt or the checkpoint given."""
    from gcnc.models import build_model

    folder = _run_folder(path)
    if folder is None:
        raise MeasureInputError(
            f"MODEL: {path} is not in a study run folder (no config.json beside it); for a "
            "torchvision model give its name and --weights"
        )
    weights = path if path.is_file() else folder / "final.pt"
    try:
        run = json.loads((folder / "config.json").read_text())["run"]
    except (OSError, ValueError, KeyError) as err:
        raise MeasureInputError(f"MODEL: {folder / 'config.json'} is unreadable ({err})") from None
    state = _state_dict(_load(weights, "MODEL"), weights, "MODEL")
    if "head.weight" not in state:
        raise MeasureInputError(f"MODEL: {weights} has no head.weight (not a gcnc model)")
    n_classes = int(state["head.weight"].shape[0])
    try:
        model = build_model(run["arch"], input_shape, n_classes, **run.get("model", {}))
    except ImportError:
        raise MeasureInputError(
            f"MODEL: {run['arch']} needs torchvision (pip install 'gcnc[vision]')"
        ) from None
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        raise MeasureInputError(f"MODEL: {weights} does not fit {run['arch']} ({mismatch})")
    model.load_state_dict(state)
    return model, f"{run['arch']} from {weights}"


def load_torchvision_model(name: str, weights: str | None, seed: int) -> tuple[nn.Module, str]:
    """torchvision's ``name`` with ``weights``: a file holding a state dict (the number of
    classes read from it), a torchvision weights name (downloaded by torchvision), or None
    (random weights drawn with ``seed``, so that a rerun measures the same network)."""
    try:
        from torchvision import models
    except ImportError:
        raise MeasureInputError(
            "MODEL: a torchvision model needs torchvision (pip install 'gcnc[vision]')"
        ) from None
    if name not in models.list_models():
        near = difflib.get_close_matches(name, models.list_models(), n=3)
        raise MeasureInputError(
            f"MODEL: '{name}' is neither a study run nor a torchvision model"
            + (f" (did you mean {', '.join(near)}?)" if near else "")
        )
    if weights is None:
        torch.manual_seed(seed)
        return models.get_model(name), f"{name} (torchvision, random weights, seed {seed})"
    path = Path(weights)
    if not path.is_file():
        try:
            return models.get_model(name, weights=weights), f"{name} (torchvision, {weights})"
        except (ValueError, KeyError) as err:
            raise MeasureInputError(
                f"--weights: '{weights}' is neither a file nor a weights name of {name} ({err})"
            ) from None
        except OSError as err:  # no network to download them
            raise MeasureInputError(f"--weights: cannot download {weights} ({err})") from None
    state = _state_dict(_load(path, "--weights"), path, "--weights")
    n_classes = _classes_of(state, path)
    model = models.get_model(name, num_classes=n_classes)
    mismatch = _mismatch(model.state_dict(), state)
    if mismatch:
        fits = _fitting_architectures(state, n_classes)
        hint = f"; they fit {', '.join(fits)}" if fits else "; no torchvision model fits them"
        raise MeasureInputError(f"--weights: {path} does not fit {name} ({mismatch}){hint}")
    model.load_state_dict(state)
    return model, f"{name} (torchvision) with {path}"


def _mismatch(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> str:
    """How ``state`` differs from the state dict ``expected``, in one line ('' if it fits)."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [k for k in expected if k in state and expected[k].shape != state[k].shape]
    parts = [
        f"{len(keys)} {what} (e.g. {keys[0]})"
        for keys, what in ((missing, "keys missing"), (unexpected, "unexpected keys"))
        if keys
    ]
    if shapes:
        k = shapes[0]
        shape, expected_shape = tuple(state[k].shape), tuple(expected[k].shape)
        parts.append(f"{len(shapes)} of another shape (e.g. {k}: {shape}, not {expected_shape})")
    return ", ".join(parts)


def _fitting_architectures(state: dict[str, torch.Tensor], n_classes: int) -> list[str]:
    """torchvision classification models whose state dict has the keys and shapes of
    ``state``, built on the meta device (no memory, a few seconds for all of them)."""
    from torchvision import models

    fits = []
    for name in models.list_models(module=models):
        try:
            with warnings.catch_warnings(), torch.device("meta"):
                warnings.simplefilter("ignore")
                candidate = models.get_model(name, num_classes=n_classes).state_dict()
        except Exception:  # builders that need real tensors (RegNet) are skipped
            continue
        if not _mismatch(candidate, state):
            fits.append(name)
    return fits
