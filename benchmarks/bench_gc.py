"""GC speed and accuracy (issue 3; the paper's Fig. 2 cost side). Prints a table; no assertions.

Compares, on the same model and batch: one forward pass; the plain baselines (a loop of batched
autograd.grad VJPs over embedding coordinates, a loop of forward-mode JVPs over input coordinates);
gcnc's exact GC; vmap(jacrev) per example; Hutchinson and feature sampling (error and cost).
    python benchmarks/bench_gc.py [--threads 2] [--resnet-n 4] [--resnet-estimator-n 16]
    python benchmarks/bench_gc.py --device cuda --resnet-n 256 --resnet-estimator-n 256
On a GPU it also times gcnc exact with several cotangents per backward pass (``--vjp-batches``)
and vmap(jacrev) at several chunk sizes (``--jacrev-chunks``); the ratio uses the fastest of each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.func import jacrev, jvp, vmap

from gcnc.metrics.gc import default_vjp_batch, embedding_gc
from gcnc.models import build_model


def synced(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` followed by a wait for the GPU's queued work, so that wall time counts it."""

    def run() -> object:
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return out

    return run


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = synced(fn)()
        times.append(time.perf_counter() - t)
    return min(times), out


def vjp_loop(embed, x):
    x = x.detach().requires_grad_(True)
    out = embed(x)
    total = 0.0
    for a in range(out.shape[1]):
        (g,) = torch.autograd.grad(out[:, a].sum(), x, retain_graph=True)
        total += g.pow(2).sum()
    return float(total) / x.shape[0]


def jvp_loop(embed, x):
    flat = torch.zeros_like(x).flatten(1)
    total = 0.0
    for b in range(flat.shape[1]):
        flat.zero_()
        flat[:, b] = 1
        _, col = jvp(embed, (x,), (flat.view_as(x),))
        total += col.pow(2).sum()
    return float(total) / x.shape[0]


def vmap_jacrev(embed, x, chunk_size=None):
    jac = vmap(jacrev(lambda xi: embed(xi[None])[0], chunk_size=chunk_size))(x)
    return float(jac.pow(2).sum()) / x.shape[0]


def interleaved(
    methods: dict[str, Callable[[], object]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, object]]:
    """Seconds of every method over ``repeats`` rounds (the methods alternating within a round,
    so that drift on a shared machine hits all of them alike) and each method's last result."""
    times: dict[str, list[float]] = {name: [] for name in methods}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, fn in methods.items():
            if results.get(name) == "out of memory":
                continue
            t = time.perf_counter()
            try:
                results[name] = synced(fn)()
            except torch.OutOfMemoryError:
                results[name], times[name] = "out of memory", [float("inf")]
                torch.cuda.empty_cache()
                continue
            times[name].append(time.perf_counter() - t)
    return times, results


def bench_exact(
    name: str,
    embed,
    x,
    repeats: int,
    with_jvp: bool = True,
    jacrev_chunks: tuple[int | None, ...] = (None,),
    vjp_batches: tuple[int, ...] = (),
) -> None:
    embed.eval()
    n, d = x.shape[0], x[0].numel()
    with torch.no_grad():
        p = embed(x[:1]).shape[1]
    methods = {
        "one forward pass": lambda: embed(x),
        f"loop of {p} batched VJPs (plain)": lambda: vjp_loop(embed, x),
        "gcnc exact": lambda: embedding_gc(embed, x),
    }
    for b in vjp_batches:
        methods[f"gcnc exact, vjp_batch={b}"] = lambda b=b: embedding_gc(embed, x, vjp_batch=b)
    for c in jacrev_chunks:
        methods[f"vmap(jacrev) per example, chunk {c}"] = lambda c=c: vmap_jacrev(embed, x, c)
    if with_jvp:
        methods[f"loop of {d} batched JVPs (plain)"] = lambda: jvp_loop(embed, x)
    times, results = interleaved(methods, repeats)
    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    where = (
        f"{torch.cuda.get_device_name()}, default vjp_batch {default_vjp_batch(embed, x)}"
        if x.is_cuda
        else f"threads={torch.get_num_threads()}"
    )
    print(f"\n## {name}: n={n}, d={d}, p={p}, {where}")
    values = ", ".join(f"{k} {v:.6g}" for k, v in results.items() if isinstance(v, float))
    print(f"GC: {values}")
    print(f"| method | best of {repeats} (s) | median (s) | best / gcnc exact |")
    print("|---|---|---|---|")
    for k in methods:
        print(f"| {k} | {best[k]:.3f} | {median[k]:.3f} | {best[k] / best['gcnc exact']:.2f} |")
    plain = min(v for k, v in best.items() if k.startswith("loop"))
    plain_med = min(v for k, v in median.items() if k.startswith("loop"))
    ours, ours_med = best["gcnc exact"], median["gcnc exact"]
    jac = min(v for k, v in best.items() if k.startswith("vmap"))
    jac_med = min(v for k, v in median.items() if k.startswith("vmap"))
    print(
        f"\nexact / better plain baseline = {ours / plain:.2f} best, {ours_med / plain_med:.2f} "
        f"median (target <= 1.3); vmap(jacrev) / exact = {jac / ours:.2f} best, "
        f"{jac_med / ours_med:.2f} median (target >= 2.5)"
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


def chunk(text: str) -> int | None:
    return None if text == "none" else int(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads")
    ap.add_argument("--resnet-n", type=int, default=4, help="batch of the side-by-side timing")
    ap.add_argument("--resnet-estimator-n", type=int, default=16, help="batch of the error study")
    ap.add_argument("--resnet-repeats", type=int, default=2)
    ap.add_argument("--vjp-batches", type=int, nargs="*", default=[], help="extra gcnc runs")
    ap.add_argument(
        "--jacrev-chunks",
        type=chunk,
        nargs="*",
        help="'none' or an int each; default: unchunked on the CNN, 8 on ResNet-18",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from sklearn.datasets import load_digits

    dev = torch.device(args.device)
    batches = tuple(args.vjp_batches)
    digits = torch.tensor(load_digits().images[:500, None], dtype=torch.float32) / 16.0
    digits = digits.to(dev)
    cnn = build_model("cnn", (1, 8, 8), 10, embed_dim=128).to(dev)
    chunks = tuple(args.jacrev_chunks or [None])
    bench_exact("cnn on digits", cnn.embed, digits, 9, jacrev_chunks=chunks, vjp_batches=batches)
    bench_estimators("cnn on digits", cnn.embed, digits, seeds=10, repeats=3)
    resnet = build_model("resnet18", (3, 32, 32), 10).to(dev)
    x = torch.randn(args.resnet_n, 3, 32, 32, device=dev)
    chunks = tuple(args.jacrev_chunks or [8])
    bench_exact(
        "resnet18 on 32x32",
        resnet.embed,
        x,
        args.resnet_repeats,
        with_jvp=False,
        jacrev_chunks=chunks,
        vjp_batches=batches,
    )
    x = torch.randn(args.resnet_estimator_n, 3, 32, 32, device=dev)
    bench_estimators("resnet18 on 32x32", resnet.embed, x, with_entries=False)


if __name__ == "__main__":
    main()
