"""The GC estimator chosen by time (``estimator="auto"`` of :func:`gcnc.measure`).

Exact GC costs min(p, JVP_COST d) Jacobian products per example (:func:`gcnc.metrics.gc.gc_terms`:
p reverse-mode VJPs, or d forward-mode JVPs when cheaper), Hutchinson one VJP per probe; what a
product costs depends on the network and its input: the same 10,240 products took 26 s on a
ResNet-18 and 109 s on a DenseNet-121 (issue 34). So ``auto`` measures it: a pilot on up to
PILOT_EXAMPLES examples of the sample, spread over it, runs one forward pass and PILOT_PASSES
backward passes with Rademacher probes, then one more forward pass (timed once warm: the first
pass of a network also builds its kernels), and, when exact GC would use forward mode, two
JVPs. It predicts, for n examples, b pilot examples, m VJPs per backward pass
(:func:`default_vjp_batch`: 1 on a CPU) and q probes,

    exact:       n (t_forward + ceil(P / m) t_pass) / b      (forward mode: n d t_jvp / b)
    Hutchinson:  n (t_forward + ceil(q / m) t_pass) / b.

Exact GC is chosen when its prediction fits the budget ``max_seconds`` less the pilot's own time;
otherwise Hutchinson, with the probes that bring the relative standard error of GC due to the
probes to ``target_rse`` (from the pilot's single-probe values: q = s^2 / (target_rse^2 GC^2 n),
s^2 the mean over examples of their single-probe variance), or as many as the budget allows when
fewer. When even one probe on every example does not fit, GC is measured on fewer examples, the
same number of each class (at least ``min_examples`` in all), which keeps ``auto`` within about
its budget. Timing makes the choice depend on the machine: the note gives the options that
reproduce it.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn

from gcnc.metrics.draws import rademacher
from gcnc.metrics.gc import (
    _forward_sq_norms,
    _vjp_sq_norms,
    default_vjp_batch,
    eval_mode,
    exact_mode,
)

GC_MAX_SECONDS = 60.0  # default budget of estimator="auto" for GC
GC_TARGET_RSE = 0.01  # default relative standard error of GC due to Hutchinson's probes
HUTCHINSON_PROBES = 16  # default probes of estimator="hutchinson"
PILOT_EXAMPLES = 16
PILOT_PASSES = 3


@dataclass(frozen=True)
class GCPlan:
    """The estimator, its probes (None for exact), the predicted seconds (None when the
    estimator was given, not chosen), a note saying why, and the examples to measure GC on
    (None: all of them)."""

    estimator: str
    n_probes: int | None
    predicted_seconds: float | None
    note: str
    n_examples: int | None = None


def _stamps(on: list[float]):
    return lambda _products: on.append(time.perf_counter())


def _pilot(embed: nn.Module, x: torch.Tensor, m: int, seed: int) -> dict[str, float]:
    """Seconds of a warm forward pass and of a backward pass (m VJPs) on ``x``, the embedding
    width, and the pilot's GC and mean single-probe variance."""
    generator = torch.Generator().manual_seed(seed)

    def probe(_: int, out: torch.Tensor) -> torch.Tensor:
        return rademacher(out.shape, generator, out.device, out.dtype)

    stamps = [time.perf_counter()]
    sq, out = _vjp_sq_norms(embed, x, probe, PILOT_PASSES * m, m, _stamps(stamps))
    passes = [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]
    started = time.perf_counter()
    with torch.enable_grad():
        embed(x.detach().repeat(m, *[1] * (x.dim() - 1)).requires_grad_(True))
    return {
        "forward": time.perf_counter() - started,
        "pass": statistics.median(passes),
        "p": float(out.shape[1]),
        "gc": float(sq.mean()),
        "variance": float(sq.var(1).mean()),
    }


def _jvp_seconds(embed: nn.Module, x: torch.Tensor) -> float:
    """Seconds of one forward-mode JVP on ``x`` (the second of two: the first warms up)."""
    stamps = [time.perf_counter()]
    coords = torch.zeros(x.shape[0], 2, dtype=torch.long, device=x.device)
    _forward_sq_norms(embed, x, coords, _stamps(stamps))
    return stamps[2] - stamps[1]


def plan_gc(
    embed: nn.Module,
    x: torch.Tensor,
    estimator: str,
    n_probes: int | None,
    *,
    max_seconds: float = GC_MAX_SECONDS,
    target_rse: float = GC_TARGET_RSE,
    chunk_size: int = 64,
    min_examples: int = 1,
    seed: int = 0,
) -> GCPlan:
    """The :class:`GCPlan` for GC of ``embed`` on the inputs ``x`` in chunks of ``chunk_size``
    (module docstring); ``auto`` runs the pilot, in eval mode (modes restored)."""
    n, d = x.shape[0], math.prod(x.shape[1:])
    if estimator == "hutchinson":
        q = n_probes or HUTCHINSON_PROBES
        return GCPlan("hutchinson", q, None, f"GC estimator hutchinson ({q} probes, given)")
    if estimator == "exact":
        return GCPlan("exact", None, None, "GC estimator exact (given)")
    started = time.perf_counter()
    pilot_x = x[torch.linspace(0, n - 1, min(n, PILOT_EXAMPLES)).round().long()]
    with eval_mode(embed):
        m = default_vjp_batch(embed, x[:chunk_size])
        t = _pilot(embed, pilot_x, m, seed)
        forward_mode, products = exact_mode(int(t["p"]), d)
        jvp = _jvp_seconds(embed, pilot_x) if forward_mode else 0.0
    b = pilot_x.shape[0]
    exact = (
        n / b * (d * jvp if forward_mode else t["forward"] + math.ceil(products / m) * t["pass"])
    )
    pilot = time.perf_counter() - started
    budget = max_seconds - pilot
    why = f"pilot {pilot:.1f} s; budget {max_seconds:g} s"
    if exact <= budget:
        note = f"GC estimator exact (auto: predicted {exact:.1f} s; {why})"
        return GCPlan("exact", None, exact, note)

    def seconds(q: int, examples: int) -> float:
        return examples / b * (t["forward"] + math.ceil(q / m) * t["pass"])

    if n_probes is not None:
        q, reason = n_probes, "probes given"
    else:
        target = math.ceil(t["variance"] / (target_rse**2 * max(t["gc"], 1e-300) ** 2 * n))
        fit = max(0, math.floor((budget * b / n - t["forward"]) / t["pass"]) * m)
        q = max(1, min(target, fit))
        reason = f"{target_rse:.0%} relative standard error from probes needs {target}"
        reason += "" if q >= target else f", the budget allows {fit}"
    kept = n
    if seconds(q, n) > budget:  # fewer examples: as many as one pass each allows
        kept = min(n, max(min_examples, math.floor(budget / seconds(q, 1))))
        reason += f"; GC on {kept} of the {n} examples to fit the budget"
    note = (
        f"GC estimator hutchinson, {q} probes (auto: predicted {seconds(q, kept):.1f} s, exact "
        f"{exact:.0f} s; {reason}; {why}; to rerun alike: estimator='hutchinson', n_probes={q}"
        + (f", gc_examples={kept}" if kept < n else "")
        + ")"
    )
    return GCPlan("hutchinson", q, seconds(q, kept), note, None if kept == n else kept)
