"""GC speed and accuracy (issue 3; the paper's Fig. 2 cost side). Prints a table; no assertions.

Compares, on the same model and batch: one forward pass; the plain baselines (a loop of batched
autograd.grad VJPs over embedding coordinates, a loop of forward-mode JVPs over input coordinates);
gcnc's exact GC; vmap(jacrev) per example; Hutchinson and feature sampling (error and cost).
    python benchmarks/bench_gc.py [--threads 2] [--resnet-n 4] [--resnet-estimator-n 16]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.func import jacrev, jvp, vmap

from gcnc.metrics.gc import embedding_gc
from gcnc.models import build_model


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def vjp_loop(embed, x):
    x = x.detach().requires_grad_(True)
    out = embed(x)
    total = 0.0
    for a in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, a].sum(), x, retain_graph=True)
        total += float(g.pow(2).sum())
    return total / x.shape[0]


def jvp_loop(embed, x):
    flat = torch.zeros_like(x).flatten(1)
    total = 0.0
    for b in range(flat.shape[1]):
        flat.zero_()
        flat[:, b] = 1
        _, col = jvp(embed, (x,), (flat.view_as(x),))
        total += float(col.pow(2).sum())
    return total / x.shape[0]


def vmap_jacrev(embed, x, chunk_size=None):
    jac = vmap(jacrev(lambda xi: embed(xi[None])[0], chunk_size=chunk_size))(x)
    return float(jac.pow(2).sum()) / x.shape[0]


def bench_exact(
    name: str, embed, x, repeats: int, with_jvp: bool = True, chunk_size: int | None = None
) -> None:
    embed.eval()
    n, d = x.shape[0], x[0].numel()
    with torch.no_grad():
        p = embed(x[:1]).shape[1]
    t_fwd, _ = best_of(lambda: embed(x), repeats)
    t_vjp, ref = best_of(lambda: vjp_loop(embed, x), repeats)
    t_jvp = best_of(lambda: jvp_loop(embed, x), 1)[0] if with_jvp else float("inf")
    t_ours, exact = best_of(lambda: embedding_gc(embed, x), repeats)
    t_jac, via_jac = best_of(lambda: vmap_jacrev(embed, x, chunk_size), 1)
    plain = min(t_vjp, t_jvp)
    print(f"\n## {name}: n={n}, d={d}, p={p}, threads={torch.get_num_threads()}")
    print("| method | seconds | relative to exact | GC |")
    print("|---|---|---|---|")
    print(f"| one forward pass | {t_fwd:.3f} | | |")
    print(f"| loop of {p} batched VJPs (plain) | {t_vjp:.3f} | {t_vjp / t_ours:.2f} | {ref:.5g} |")
    if with_jvp:
        print(f"| loop of {d} batched JVPs (plain) | {t_jvp:.3f} | {t_jvp / t_ours:.2f} | |")
    print(f"| gcnc exact | {t_ours:.3f} | 1.00 | {exact:.5g} |")
    print(f"| vmap(jacrev) per example | {t_jac:.3f} | {t_jac / t_ours:.2f} | {via_jac:.5g} |")
    print(
        f"\nexact / better plain baseline = {t_ours / plain:.2f} (target <= 1.3); "
        f"vmap(jacrev) / exact = {t_jac / t_ours:.2f} (target >= 2.5)"
    )


def bench_estimators(
    name: str, embed, x, seeds: int = 5, repeats: int = 1, with_entries: bool = True
) -> None:
    """Error and cost of the cheap estimators against exact GC on the same batch (Jacobian
    entries only where forward mode is cheap, i.e. a small input)."""
    embed.eval()
    with torch.no_grad():
        p = embed(x[:1]).shape[1]
    t_exact, exact = best_of(lambda: embedding_gc(embed, x), repeats)
    print(f"\n## {name}, cheap estimators: n={x.shape[0]}, p={p}, exact {t_exact:.3f} s")
    print("| cheap estimator | seconds (mean) | cost / exact | mean |rel. error| | max |")
    print("|---|---|---|---|---|")
    for label, kw in [
        ("hutchinson, p/16 probes", {"estimator": "hutchinson", "n_probes": max(1, p // 16)}),
        ("hutchinson, p/8 probes", {"estimator": "hutchinson", "n_probes": max(1, p // 8)}),
        ("hutchinson, 16 probes", {"estimator": "hutchinson", "n_probes": 16}),
        ("features, 1/16", {"feature_fraction": 1 / 16}),
        ("features, 1/8", {"feature_fraction": 1 / 8}),
        ("features, 1/4", {"feature_fraction": 1 / 4}),
        ("Jacobian entries, 1/8", {"input_fraction": 1 / 8}),
    ][: None if with_entries else -1]:
        errs, secs = [], []
        for s in range(seeds):
            t = time.perf_counter()
            est = embedding_gc(embed, x, generator=torch.Generator().manual_seed(s), **kw)
            secs.append(time.perf_counter() - t)
            errs.append(abs(est - exact) / exact)
        mean_s = sum(secs) / len(secs)
        print(
            f"| {label} | {mean_s:.3f} | {mean_s / t_exact:.3f} "
            f"| {100 * sum(errs) / len(errs):.2f}% | {100 * max(errs):.2f}% |"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--resnet-n", type=int, default=4, help="batch of the side-by-side timing")
    ap.add_argument("--resnet-estimator-n", type=int, default=16, help="batch of the error study")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from sklearn.datasets import load_digits

    digits = torch.tensor(load_digits().images[:500, None], dtype=torch.float32) / 16.0
    cnn = build_model("cnn", (1, 8, 8), 10, embed_dim=128)
    bench_exact("cnn on digits", cnn.embed, digits, repeats=5)
    bench_estimators("cnn on digits", cnn.embed, digits, seeds=10, repeats=3)
    resnet = build_model("resnet18", (3, 32, 32), 10)
    x = torch.randn(args.resnet_n, 3, 32, 32)
    bench_exact("resnet18 on 32x32", resnet.embed, x, repeats=1, with_jvp=False, chunk_size=8)
    x = torch.randn(args.resnet_estimator_n, 3, 32, 32)
    bench_estimators("resnet18 on 32x32", resnet.embed, x, with_entries=False)


if __name__ == "__main__":
    main()
