"""Does the search's one-pass candidate measurement rank candidates as BN recalibration would?

    python bench/search_fidelity.py RUN_DIR [--every 3]

Replays the search chain recorded in RUN_DIR's run.json (a ``train --method pss`` run). At every ``--every``-th
step it scores each shrink candidate (held-out loss increase per MFLOP saved) two ways: the reference,
BN recalibrated on 512 training images and then evaluated on the held-out split (the search before issue #17),
and ``HeldOut`` (BN on the held-out images' batch statistics, one pass). Prints how often both pick the same
candidate, whether the reference's pick is in the one-pass top 3, the rank correlation, the reference-score
regret of the one-pass pick, and the seconds each took.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from edgeslim import load_run
from edgeslim.host.data import load_dataset
from edgeslim.host.search.costs import mflops_cost
from edgeslim.host.search.progressive import HeldOut, shrink_candidates
from edgeslim.subnets import SubnetConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--every", type=int, default=3, help="replay every N-th step of the chain")
    args = parser.parse_args()
    run = load_run(args.run_dir)
    supernet, info = run.supernet, run.info
    seed = info["options"]["seed"]
    dataset = load_dataset(info["data"], seed)
    x_train, _, x_val, y_val = dataset.holdout(info["search"]["val_fraction"], seed)
    calib = [torch.from_numpy(dataset.normalize(x_train[i:i + 256])) for i in range(0, 512, 256)]
    x_val_t, y_val_t = torch.from_numpy(dataset.normalize(x_val)), torch.from_numpy(y_val)

    @torch.no_grad()
    def recalibrated(config: SubnetConfig) -> float:
        supernet.recalibrate_bn(config, calib)
        supernet.eval()
        logits = torch.cat([supernet(x_val_t[i:i + 500]) for i in range(0, len(x_val_t), 500)])
        supernet.bn_stats.pop(config.key(), None)
        return float(F.cross_entropy(logits, y_val_t))

    one_pass = HeldOut(supernet, dataset.normalize(x_val), y_val)
    cost = mflops_cost(supernet)
    chain = info["search"]["chain"]
    agree, top3, rhos, regrets, seconds, steps = 0, 0, [], [], {"reference": 0.0, "one pass": 0.0}, 0
    for i in range(0, len(chain) - 1, args.every):
        parent = SubnetConfig("parent", chain[i]["channels"])
        parent_cost = cost(parent)
        candidates = [c for c in shrink_candidates(supernet, parent) if cost(c) < parent_cost]
        if len(candidates) < 2:
            continue
        saved = np.array([parent_cost - cost(c) for c in candidates])
        scores = {}
        for name, measure in (("reference", recalibrated), ("one pass", lambda c: one_pass(c)[1])):
            started = time.perf_counter()
            base = measure(parent)
            scores[name] = np.array([measure(c) - base for c in candidates]) / saved
            seconds[name] += time.perf_counter() - started
        best, picked = scores["reference"].argmin(), scores["one pass"].argmin()
        agree += int(best == picked)
        top3 += int(best in np.argsort(scores["one pass"])[:3])
        rhos.append(spearmanr(scores["reference"], scores["one pass"]).correlation)
        regrets.append(float((scores["reference"][picked] - scores["reference"][best]) * saved[picked]))
        steps += 1
        print(f"step {i}: {len(candidates)} candidates, same pick {best == picked}", flush=True)
    print(f"\n{args.run_dir}: {steps} steps of the chain replayed, {len(y_val)} held-out images")
    print("| | reference (recalibrate on 512, evaluate) | one pass (held-out batch statistics) |")
    print("|---|---|---|")
    print(f"| seconds | {seconds['reference']:.1f} | {seconds['one pass']:.1f} |")
    print(f"| picks the reference's candidate | {steps}/{steps} | {agree}/{steps} |")
    print(f"| reference's pick in its top 3 | {steps}/{steps} | {top3}/{steps} |")
    print(f"| Spearman ρ with the reference's scores | 1 | {np.mean(rhos):.3f} (min {np.min(rhos):.3f}) |")
    print(f"| reference held-out loss lost by its pick | 0 | {np.mean(regrets):.5f} (max {np.max(regrets):.5f}) |")


if __name__ == "__main__":
    main()
