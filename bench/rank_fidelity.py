"""How many noise-ranking steps does the search need? Ranking quality against its cost.

    python bench/rank_fidelity.py RUN_DIR [--steps 0,25,50,100,150] [--seeds 0,1] [--widths 0.75,0.5]

RUN_DIR: the full network trained alone on all but a held-out split, which is what ``train --method pss``
(``--start full``) ranks, e.g. ``edgeslim train --method single --width 1 --val-fraction 0.15 ...``. For every
number of ranking steps and noise seed, ranks the channel blocks as the search does (BN recalibrated at full
width, ``rank_blocks``), reorders the channels, then measures the uniform prefixes at ``--widths`` on the
held-out split (BN on its batch statistics, as the search scores candidates): the better the ranking, the lower
their held-out loss. 0 steps keeps the trained order (no ranking). Also prints the seconds of each ranking and,
per group, how much of the most important half of the blocks agrees with the ranking of the most steps and
the first seed (the seed-to-seed agreement at equal steps is the noise floor).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from edgeslim import load_run
from edgeslim.host.data import load_dataset
from edgeslim.host.evaluate import calibration_batches
from edgeslim.host.search.progressive import HeldOut
from edgeslim.host.search.ranking import rank_blocks
from edgeslim.host.train.steps import Batches


def ranked(run_dir: str, steps: int, seed: int) -> tuple[object, dict, float, HeldOut]:
    """The run reloaded and ranked with ``steps`` steps of noise ``seed``: (run, block orders, seconds, its
    held-out split)."""
    run = load_run(run_dir)
    supernet, info = run.supernet, run.info
    dataset = load_dataset(info["data"], info["options"]["seed"])
    x_train, y_train, x_val, y_val = dataset.holdout(info["options"]["val_fraction"], info["options"]["seed"])
    batches = Batches(dataset, info["options"]["batch_size"], info["options"]["augment"], x_train, y_train)
    started = time.perf_counter()
    supernet.recalibrate_bn(supernet.space.largest(), calibration_batches(dataset, 1024))
    orders = {}
    if steps:
        orders = rank_blocks(supernet, batches, steps, seed=seed, show_progress=False)
        supernet.permute_channels(orders)
    return run, orders, time.perf_counter() - started, HeldOut(supernet, dataset.normalize(x_val), y_val)


def top_half_agreement(a: dict, b: dict, run) -> float:
    """Mean over groups of the share of the most important half of the blocks that both orders keep."""
    shares = []
    for group in run.supernet.space.groups:
        blocks = group.channels // group.granularity
        half = max(1, blocks // 2) * group.granularity
        shares.append(len(set(a[group.name][:half].tolist()) & set(b[group.name][:half].tolist())) / half)
    return float(np.mean(shares))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--steps", default="0,25,50,100,150")
    parser.add_argument("--seeds", default="0,1", help="noise seeds of the ranking")
    parser.add_argument("--widths", default="0.75,0.5", help="uniform prefixes measured after the ranking")
    args = parser.parse_args()
    torch.manual_seed(0)
    steps_list = [int(s) for s in args.steps.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    widths = [float(w) for w in args.widths.split(",")]
    info = load_run(args.run_dir).info
    if info["method"] != "single" or not info["options"].get("val_fraction"):
        raise SystemExit(f"{args.run_dir}: needs a full network trained alone with a held-out split "
                         "(edgeslim train --method single --width 1 --val-fraction 0.15)")
    reference = None
    rows = []
    for steps in sorted(steps_list, reverse=True):
        for seed in seeds if steps else seeds[:1]:
            run, orders, seconds, held_out = ranked(args.run_dir, steps, seed)
            measured = [held_out(run.supernet.space.uniform(w)) for w in widths]
            reference = reference or orders
            agreement = top_half_agreement(orders, reference, run) if orders else float("nan")
            rows.append((steps, seed, seconds, agreement, measured))
            print(f"{steps} steps, seed {seed}: {seconds:.1f} s, "
                  + ", ".join(f"w{w:g} loss {loss:.4f} top-1 {top1:.2f}" for w, (top1, loss) in zip(widths, measured)),
                  flush=True)
    print(f"\n{args.run_dir}: held-out split of {len(held_out.y)} images, BN on its batch statistics")
    print("| ranking steps | noise seed | seconds | top-half agreement with the first row | "
          + " | ".join(f"w{w:g} held-out loss / top-1" for w in widths) + " |")
    print("|---" * (4 + len(widths)) + "|")
    for steps, seed, seconds, agreement, measured in rows:
        print(f"| {steps} | {seed if steps else '-'} | {seconds:.1f} | "
              f"{'-' if np.isnan(agreement) else f'{agreement:.2f}'} | "
              + " | ".join(f"{loss:.4f} / {top1:.2f}" for top1, loss in measured) + " |")


if __name__ == "__main__":
    main()
