"""The learning-rate schedules of pretraining and fine-tuning: a rate per SGD step, a function of
the step alone, so that a run resumed from a checkpoint continues the same schedule."""

from __future__ import annotations

import math

STEP_DECAY = ((0.5, 0.1), (0.75, 0.01))  # step schedule: (fraction of steps done, factor)


def learning_rate(base: float, step: int, steps: int, schedule: str = "constant") -> float:
    """Learning rate of SGD step ``step`` (1..steps):

    - ``constant``: ``base`` throughout (plain SGD, as the implicit-regularisation argument of
      Sec. 4 assumes: its strength grows with the step size);
    - ``step``: ``base``, then ``base / 10`` after half the steps and ``base / 100`` after three
      quarters (the classic VGG/ResNet schedule);
    - ``cosine``: annealed from ``base`` at step 1 towards 0,
      ``base * (1 + cos(pi * (step - 1) / steps)) / 2``.
    """
    if schedule == "constant":
        return base
    if schedule == "step":
        factor = 1.0
        for fraction, decay in STEP_DECAY:
            if step > fraction * steps:
                factor = decay
        return base * factor
    if schedule == "cosine":
        return base * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / steps))
    raise ValueError(f"unknown lr_schedule '{schedule}'; choose constant, step or cosine")
