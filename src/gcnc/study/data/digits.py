"""scikit-learn's bundled handwritten digits (1797 real 8x8 images, 10 classes), offline."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def make_digits(spec: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Stratified train/test split of the digits; pixels kept as integers 0..16 (scale 16)."""
    bunch = load_digits()
    x = bunch.images.astype(np.uint8)[:, None]  # N x 1 x 8 x 8
    y = bunch.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=spec.get("test_fraction", 0.3), stratify=y, random_state=spec.get("seed", 0)
    )
    arrays = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    return arrays, {"n_classes": 10, "class_names": [str(i) for i in range(10)], "scale": 16.0}
