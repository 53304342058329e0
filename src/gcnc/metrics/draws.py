"""The random draws of the GC estimators (Rademacher probes, sampled Jacobian coordinates) and
keys that make a draw a function of the example alone.

A key is a 63-bit integer from BLAKE2b of the example's bytes (as given: dtype and values), keyed
by the seed and a purpose ("sample", "probes"). The same example with the same seed gets the same
key whatever the batch it arrives in, the loader, or the order of the data, so a sample chosen by
keys (:class:`gcnc.streams.ClassReservoir`) and probes drawn from a generator seeded with the key
(:func:`keyed_rademacher`) do not depend on batching. Two identical examples get the same key (and
the same probes): they are the same input.
"""

from __future__ import annotations

import hashlib
import math

import torch


def example_keys(x: torch.Tensor, seed: int, purpose: str) -> list[int]:
    """One key in [0, 2^63) per example (row of ``x``), from its bytes, ``seed`` and ``purpose``."""
    rows = x.detach().cpu().contiguous().reshape(x.shape[0], -1)
    raw = rows.view(torch.uint8).numpy()
    salt, person = str(seed).encode()[:64], purpose.encode()[:16]
    return [
        int.from_bytes(
            hashlib.blake2b(row.tobytes(), digest_size=8, key=salt, person=person).digest(),
            "little",
        )
        >> 1
        for row in raw
    ]


def keyed_rademacher(keys: list[int], n_probes: int, width: int) -> torch.Tensor:
    """Rademacher signs (+-1, int8) of shape (len(keys), n_probes, width): row i from a generator
    seeded with ``keys[i]``, so an example's probes do not depend on the other examples."""
    out = torch.empty(len(keys), n_probes, width, dtype=torch.int8)
    generator = torch.Generator()
    for i, key in enumerate(keys):
        generator.manual_seed(key)
        out[i] = torch.randint(0, 2, (n_probes, width), generator=generator, dtype=torch.int8)
    return out * 2 - 1


def rademacher(
    shape: torch.Size, generator: torch.Generator | None, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Rademacher signs of ``shape`` drawn on the CPU from ``generator`` (the same on every
    device), moved to ``device`` as ``dtype``."""
    bits = torch.randint(0, 2, shape, generator=generator, device="cpu").to(device)
    return (2 * bits - 1).to(dtype)


def tiled_coordinates(
    n: int, total: int, fraction: float | None, generator: torch.Generator | None
) -> torch.Tensor:
    """(n, k) coordinate indices, k = ceil(fraction * total); all ``total`` when ``fraction`` is
    None or 1.

    Every example gets a uniformly random k-subset (so each example's estimate is unbiased), and
    the subsets tile one random permutation: example i takes positions i*k, ..., i*k + k - 1
    (mod total). Over the batch every coordinate is then kept equally often (up to one), so the
    spread between coordinates that all examples share cancels in the batch mean and only the
    example-to-example part of the sampling variance remains.
    """
    if fraction is None or fraction >= 1.0:
        return torch.arange(total).expand(n, total)
    k = max(1, math.ceil(fraction * total))
    perm = torch.randperm(total, generator=generator)
    return perm[(torch.arange(n)[:, None] * k + torch.arange(k)) % total]
