"""Few-shot evaluation speed (issue 5): 600 episodes of 5-way 5-shot on 512-d features.
python benchmarks/bench_fewshot.py
"""

import time

import numpy as np
import torch

from gcnc.study.transfer.fewshot import logreg_episodes, ncm_episodes, sample_episodes


def main() -> None:
    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(20), 600)  # CIFAR-FS target pool: 20 classes x 600
    feats = torch.nn.functional.normalize(
        torch.tensor(
            rng.normal(size=(len(labels), 512)) + 0.5 * rng.normal(size=(20, 512))[labels],
            dtype=torch.float32,
        ),
        dim=1,
    )
    cfg = {"ways": [5], "shots": [1, 5], "queries": 15, "episodes": 600, "seed": 0}
    t = time.perf_counter()
    eps = sample_episodes(labels, cfg)
    print(f"sample 600 episodes x 2 shots: {time.perf_counter() - t:.2f} s")
    for shot in (1, 5):
        s = feats[torch.from_numpy(eps[f"w5_s{shot}_support"])]
        q = feats[torch.from_numpy(eps[f"w5_s{shot}_query"])]
        for name, fn in (("ncm", ncm_episodes), ("logreg", logreg_episodes)):
            t = time.perf_counter()
            acc = fn(s, q)
            print(
                f"5-way {shot}-shot {name}: {time.perf_counter() - t:.2f} s for 600 episodes "
                f"(mean accuracy {float(acc.mean()):.3f})"
            )


if __name__ == "__main__":
    main()
