"""How much faster is the search's race when candidates run from their changed group's first layer?

    python bench/race_prefix.py RUN_DIR [--steps 4] [--at K] [--threads 1] [--search-to 0.85]

RUN_DIR: a trained run (the full network alone, or a supernet) with a held-out split (``--val-fraction``), as
``train --method pss`` leaves before its search, or a finished pss run. From the full network (``--at K``: a pss
run's K-th chain member, as the search narrowed it), for ``--steps`` chain steps, scores
every shrink candidate on the held-out split's first chunk twice: full forward passes, and from the parent's
kept values (``HeldOut.share_prefix``, what the search does). Prints per step the seconds of each, the speed-up
and whether the scores are bitwise the same, then the seconds of the rest of the step (the best ``KEEP``
candidates on the other chunks, full passes either way) and the whole step's speed-up. ``--search-to F``: then
the search itself (no fine-tunes) from the full network down to F of its MFLOPs, once with full passes and once
from the parent's values: seconds per step and whether the chains are the same.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from edgeslim import load_run
from edgeslim.errors import EdgeslimError
from edgeslim.host.data import load_dataset
from edgeslim.host.search.costs import mflops_cost
from edgeslim.host.search.progressive import ChainEntry, HeldOut, pick, progressive_search, shrink_candidates
from edgeslim.subnets import SubnetConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--steps", type=int, default=4, help="chain steps to time (default %(default)s)")
    parser.add_argument("--at", type=int, default=0, help="start from this member of a pss run's chain")
    parser.add_argument("--search-to", type=float, help="also time the search down to this share of the MFLOPs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        run = load_run(args.run_dir)
    except EdgeslimError as error:
        sys.exit(str(error))
    supernet, info = run.supernet, run.info
    seed, fraction = info["options"]["seed"], info["options"].get("val_fraction")
    if not fraction:
        sys.exit(f"{args.run_dir}: trained without a held-out split; train it with --val-fraction 0.15")
    dataset = load_dataset(info["data"], seed)
    _, _, x_val, y_val = dataset.holdout(fraction, seed)
    x_val = dataset.normalize(x_val)
    cost = mflops_cost(supernet)
    parent = supernet.space.largest()
    if args.at:
        if info["method"] != "pss":
            sys.exit(f"--at: {args.run_dir} is not a pss run; it has no chain")
        if not 0 <= args.at < len(info["search"]["chain"]):
            sys.exit(f"--at {args.at}: the chain of {args.run_dir} has {len(info['search']['chain'])} members")
        parent = SubnetConfig("start", info["search"]["chain"][args.at]["channels"])
    print(f"{args.run_dir} ({info['model']}, from {cost(parent):.2f} of {cost(supernet.space.largest()):.2f} "
          f"MFLOPs): {len(supernet.space.groups)} channel groups, {args.threads} thread(s)")
    print("| step | candidates | first chunk, full passes s | from the parent's values s | speed-up | same scores "
          "| rest of the step s | whole step speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for step in range(args.steps):
        candidates = shrink_candidates(supernet, parent)
        full, shared = HeldOut(supernet, x_val, y_val), HeldOut(supernet, x_val, y_val)
        started = time.perf_counter()
        expected = [full(c, chunks=1) for c in candidates]
        full_seconds = time.perf_counter() - started
        started = time.perf_counter()
        shared.share_prefix(parent)
        scores = [shared(c, chunks=1) for c in candidates]
        shared_seconds = time.perf_counter() - started
        entry = ChainEntry(parent, cost(parent), *shared(parent))  # measured whole before its step
        started = time.perf_counter()
        parent, _ = pick(shared, entry, [(c, cost(c)) for c in candidates])  # the first chunk is measured
        rest = time.perf_counter() - started
        print(f"| {step} | {len(candidates)} | {full_seconds:.2f} | {shared_seconds:.2f} | "
              f"{full_seconds / shared_seconds:.2f}× | {'yes' if scores == expected else 'NO'} | {rest:.2f} | "
              f"{(full_seconds + rest) / (shared_seconds + rest):.2f}× |", flush=True)
        print(f"step {step}: {cost(parent):.2f} MFLOPs", file=sys.stderr, flush=True)
    if args.search_to:
        search(supernet, x_val, y_val, cost, args.search_to)


def search(supernet, x_val, y_val, cost, share: float) -> None:
    """The search down to ``share`` of the full MFLOPs with full passes and from the parent's values."""
    chains = []
    print(f"\n| search to {share:g} of the MFLOPs | steps | s per step |\n|---|---|---|")
    for label in ("full passes", "from the parent's values"):
        held_out = HeldOut(supernet, x_val, y_val)
        if label == "full passes":
            held_out.share_prefix = lambda parent: None  # the race then runs every candidate whole
        started = time.perf_counter()
        chain = progressive_search(supernet, held_out, cost, share * cost(supernet.space.largest()), 100.0,
                                   lambda configs: None, show_progress=False)
        steps = len(chain.entries) - 1
        print(f"| {label} | {steps} | {(time.perf_counter() - started) / steps:.2f} |", flush=True)
        chains.append([e.config.channels for e in chain.entries])
    print(f"same chain: {'yes' if chains[0] == chains[1] else 'NO'}")


if __name__ == "__main__":
    main()
