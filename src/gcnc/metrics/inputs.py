"""Checks of the arguments of every public measurement; each error names the argument at fault.

- Tensors: a ``torch.Tensor``, or a NumPy array converted with ``torch.as_tensor`` (NumPy is not
  imported here: an array is recognised by its type's module); anything else is refused by name.
- Features (embeddings f(x), paper Section 3): 2-D (examples, features), floating point, at least
  one row, every value finite. A 4-D feature map is refused, not flattened: the paper's f is the
  input of the linear head, a vector per example.
- Labels: 1-D integer class indices 0..k-1, a tensor, an array or a list of integers (bool, float
  and complex dtypes are refused, so a float label is never truncated), one per feature row, none
  negative, none >= ``n_classes`` when that is given.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

GC_ESTIMATORS = ("exact", "hutchinson")


def as_tensor(value: Any, name: str) -> torch.Tensor:
    """``value`` as a tensor: a tensor as is, a NumPy array converted (sharing its memory);
    anything else raises TypeError naming ``name``."""
    if isinstance(value, torch.Tensor):
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "__array__"):
        try:
            return torch.as_tensor(value)
        except TypeError as err:  # object or string arrays
            raise TypeError(f"{name}: this NumPy array cannot become a tensor ({err})") from None
    raise TypeError(f"{name}: expected a torch.Tensor or a NumPy array, got {type(value).__name__}")


def as_labels(value: Any, name: str) -> torch.Tensor:
    """Labels as a tensor: a tensor or a NumPy array as :func:`as_tensor`, or a list or tuple of
    Python integers."""
    if isinstance(value, (list, tuple)):
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, numbers.Integral)]
        if bad:
            raise TypeError(f"{name}: a list of integer class indices, but it holds {bad[0]!r}")
        return torch.tensor([int(v) for v in value], dtype=torch.long)
    return as_tensor(value, name)


def check_finite(tensor: torch.Tensor, name: str) -> None:
    """Raise ValueError naming ``name`` if any value is NaN or infinite, with their number and
    the position of the first (row, and index in the tensor).
    Tensors without data (device ``meta``, as the FLOP counter of :mod:`gcnc.study.theory.compute`
    runs the
    models) have no values to check."""
    if tensor.device.type == "meta":
        return
    bad = ~torch.isfinite(tensor.detach())
    if bool(bad.any()):
        count = int(bad.sum())
        first = tuple(int(i) for i in torch.nonzero(bad)[0])
        where = f"in row {first[0]}" + (f" at index {first}" if len(first) > 1 else "")
        raise ValueError(
            f"{name}: {count} non-finite value{'s' if count > 1 else ''} (NaN or inf), the first "
            + where
        )


def check_features(features: Any, name: str = "features") -> torch.Tensor:
    """``features`` as a finite floating (n, p) tensor, n >= 1; errors name ``name``."""
    f = as_tensor(features, name)
    if f.dim() != 2:
        raise ValueError(
            f"{name}: expected a 2-D (examples, features) tensor, got shape {tuple(f.shape)}; "
            "pool or flatten the embedding to one vector per example first"
        )
    if not f.is_floating_point():
        raise TypeError(f"{name}: expected floating-point values, got {f.dtype}")
    if f.shape[0] == 0:
        raise ValueError(f"{name}: no examples (0 rows)")
    check_finite(f, name)
    return f


def check_labels(
    labels: Any,
    n_rows: int | None = None,
    n_classes: int | None = None,
    name: str = "labels",
    rows_of: str = "features",
) -> torch.Tensor:
    """``labels`` as a 1-D int64 tensor of class indices 0..n_classes-1, ``n_rows`` long (when
    given; ``rows_of`` names what they label); a list of integers is accepted; errors name
    ``name``."""
    y = as_labels(labels, name)
    if y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
        raise TypeError(
            f"{name}: expected integer class indices 0..k-1, got dtype {y.dtype}; labels are "
            "never rounded (convert them with .long() if they are whole numbers)"
        )
    if y.dim() != 1:
        raise ValueError(f"{name}: expected a 1-D tensor of class indices, got {tuple(y.shape)}")
    if n_rows is not None and y.shape[0] != n_rows:
        raise ValueError(f"{name}: {y.shape[0]} labels for {n_rows} rows of {rows_of}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError(f"{name}: negative class index {int(y.min())}; classes are 0..k-1")
    if n_classes is not None and y.numel() and int(y.max()) >= n_classes:
        raise ValueError(
            f"{name}: class index {int(y.max())} is out of range for n_classes={n_classes}"
        )
    return y.long()


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1 (bool refused); errors name ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_finite_number(value: Any, name: str, minimum: float | None = None) -> float:
    """``value`` as a finite float (>= ``minimum`` when given); errors name ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value!r}")
    return float(value)


def check_inputs(x: Any, name: str = "x", module: torch.nn.Module | None = None) -> torch.Tensor:
    """Network inputs ``x`` as a finite floating tensor with a batch axis and >= 1 example, of
    the floating dtype of ``module``'s parameters when given."""
    t = as_tensor(x, name)
    if t.dim() < 2:
        raise ValueError(
            f"{name}: expected a batch (examples, ...) of inputs, got shape {tuple(t.shape)}"
        )
    if not t.is_floating_point():
        raise TypeError(
            f"{name}: expected floating-point inputs, got {t.dtype}; scale and normalise them "
            "as in training first"
        )
    if t.shape[0] == 0:
        raise ValueError(f"{name}: no examples (0 rows)")
    if module is not None:
        dtype = next((q.dtype for q in module.parameters() if q.is_floating_point()), t.dtype)
        if t.dtype != dtype:
            raise TypeError(f"{name}: dtype {t.dtype}, but the network computes in {dtype}")
    check_finite(t, name)
    return t


def check_embedding_output(out: Any, name: str = "embed") -> None:
    """The output of an embedding f must be a floating (examples, features) tensor."""
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{name}: output is a {type(out).__name__}, expected a tensor")
    if out.dim() != 2 or not out.is_floating_point():
        raise ValueError(
            f"{name}: output has shape {tuple(out.shape)} and dtype {out.dtype}, expected a "
            "floating (examples, features) tensor; end the embedding with a pooling or "
            "flatten (e.g. nn.Sequential(embed, nn.Flatten()))"
        )


def check_gc_options(
    estimator: str,
    *,
    n_probes: Any,
    input_fraction: float | None,
    feature_fraction: float | None,
    per_feature: bool,
    vjp_batch: Any,
    chunk_size: Any,
) -> None:
    """Arguments of :func:`gcnc.metrics.gc.gc_terms` that do not fit together or are out of
    range raise ValueError naming them."""
    if estimator not in GC_ESTIMATORS:
        raise ValueError(f"unknown GC estimator '{estimator}'; choose one of {GC_ESTIMATORS}")
    check_positive_int(n_probes, "n_probes")
    check_positive_int(chunk_size, "chunk_size")
    if vjp_batch is not None:
        check_positive_int(vjp_batch, "vjp_batch")
    fractions = {"input_fraction": input_fraction, "feature_fraction": feature_fraction}
    for name, fraction in fractions.items():
        if fraction is not None and not (check_finite_number(fraction, name) > 0):
            raise ValueError(f"{name}: expected a fraction in (0, 1], got {fraction!r}")
    sampled = bool(input_fraction or feature_fraction)
    if estimator == "hutchinson" and sampled:
        raise ValueError("input_fraction / feature_fraction apply to the exact estimator only")
    if input_fraction and feature_fraction:
        raise ValueError("sample either Jacobian entries (input) or features, not both at once")
    if per_feature and (estimator != "exact" or sampled):
        raise ValueError("per-feature GC is computed exactly only")
