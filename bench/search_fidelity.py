"""Do the search's shortcuts in measuring candidates pick what BN recalibration over the whole split would?

    python bench/search_fidelity.py RUN_DIR [--every 3] [--races 4x3,6x2]

Replays the search chain recorded in RUN_DIR's run.json (a ``train --method pss`` run). At every ``--every``-th
step it scores each shrink candidate (held-out loss increase per MFLOP saved) three ways: the reference,
BN recalibrated on 512 training images and then evaluated on the held-out split (the search before issue #17);
``HeldOut`` over the whole split (BN on each held-out chunk's batch statistics, one pass); and the race the
search runs (every candidate on the first chunk, the best ``KEEP`` on the rest), and any other races of
``--races`` (CHUNKSxKEEP: the held-out split cut into that many chunks, the best KEEP of the first raced on the
rest). Prints how often each picks the reference's candidate, whether the reference's pick is in the one-pass
top 3, the rank correlation, the reference-score regret of each pick, and the seconds each took.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from edgeslim import load_run
from edgeslim.host.data import load_dataset
from edgeslim.host.search.costs import mflops_cost
from edgeslim.host.search.progressive import KEEP, RACE_CHUNKS, ChainEntry, HeldOut, race, shrink_candidates
from edgeslim.subnets import SubnetConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--every", type=int, default=3, help="replay every N-th step of the chain")
    parser.add_argument("--races", default="", help="more races to compare, CHUNKSxKEEP,... (e.g. 6x2,8x2)")
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
    races = {"race": (RACE_CHUNKS, KEEP)}
    for r in (r for r in args.races.split(",") if r):
        if not re.fullmatch(r"[1-9]\d*x[1-9]\d*", r):
            parser.error(f"--races {r}: expected CHUNKSxKEEP, e.g. 6x2")
        races[f"race {r}"] = tuple(map(int, r.split("x")))
    raced = {"race": HeldOut(supernet, dataset.normalize(x_val), y_val)}  # the search's own
    raced.update({name: HeldOut(supernet, dataset.normalize(x_val), y_val, chunks, min_chunk=1)
                  for name, (chunks, _) in races.items() if name != "race"})
    cost = mflops_cost(supernet)
    chain = info["search"]["chain"]
    methods = ("reference", "one pass", *races)
    agree, regrets, seconds = {m: 0 for m in methods}, {m: [] for m in methods}, {m: 0.0 for m in methods}
    top3, rhos, steps = 0, [], 0
    for i in range(0, len(chain) - 1, args.every):
        parent = SubnetConfig("parent", chain[i]["channels"])
        parent_cost = cost(parent)
        candidates = [c for c in shrink_candidates(supernet, parent) if cost(c) < parent_cost]
        if len(candidates) < 2:
            continue
        saved = np.array([parent_cost - cost(c) for c in candidates])
        scores, picks = {}, {}
        for name, measure in (("reference", recalibrated), ("one pass", lambda c: one_pass(c)[1])):
            started = time.perf_counter()
            base = measure(parent)
            scores[name] = np.array([measure(c) - base for c in candidates]) / saved
            seconds[name] += time.perf_counter() - started
            picks[name] = int(scores[name].argmin())
        for name, (_, keep) in races.items():
            started = time.perf_counter()
            raced[name](parent)  # the search has the parent measured already: counted here all the same
            picked, _ = race(raced[name], ChainEntry(parent, parent_cost, 0.0, 0.0),
                             [(c, cost(c)) for c in candidates], keep)
            picks[name] = candidates.index(picked)
            seconds[name] += time.perf_counter() - started
        best = picks["reference"]
        for name in methods:
            agree[name] += int(picks[name] == best)
            regrets[name].append(float((scores["reference"][picks[name]] - scores["reference"][best])
                                       * saved[picks[name]]))
        top3 += int(best in np.argsort(scores["one pass"])[:3])
        rhos.append(spearmanr(scores["reference"], scores["one pass"]).correlation)
        steps += 1
        print(f"step {i}: {len(candidates)} candidates; picks the reference's: "
              + ", ".join(f"{m} {picks[m] == best}" for m in methods[1:]), flush=True)
    print(f"\n{args.run_dir}: {steps} steps of the chain replayed, {len(y_val)} held-out images")
    blank = " |" * len(races)
    print("| | reference (recalibrate on 512, evaluate) | one pass (held-out batch statistics) | "
          + " | ".join(f"{m}: {len(raced[m].bounds)} chunks of {raced[m].bounds[0][1]}, best {k} on the rest"
                       for m, (_, k) in races.items()) + " |")
    print("|---" * (len(methods) + 1) + "|")
    print("| seconds | " + " | ".join(f"{seconds[m]:.1f}" for m in methods) + " |")
    print(f"| images forwarded | | {one_pass.images} | " + " | ".join(str(raced[m].images) for m in races) + " |")
    print(f"| picks the reference's candidate | {steps}/{steps} | "
          + " | ".join(f"{agree[m]}/{steps}" for m in methods[1:]) + " |")
    print(f"| reference's pick in the one-pass top 3 | | {top3}/{steps} |{blank}")
    print(f"| Spearman ρ with the reference's scores | 1 | {np.mean(rhos):.3f} (min {np.min(rhos):.3f}) |{blank}")
    print("| reference held-out loss lost by its pick | 0 | "
          + " | ".join(f"{np.mean(regrets[m]):.5f} (max {np.max(regrets[m]):.5f})" for m in methods[1:]) + " |")


if __name__ == "__main__":
    main()
