"""How much faster is the search's step when candidates run from their changed group's first layer?

    python bench/race_prefix.py RUN_DIR [--steps 4] [--at K] [--threads 1] [--search-to 0.85]

RUN_DIR: a trained run (the full network alone, or a supernet) with a held-out split (``--val-fraction``), as
``train --method pss`` leaves before its search, or a finished pss run. From the full network (``--at K``: a pss
run's K-th chain member, as the search narrowed it), for ``--steps`` chain steps, runs each step of the search
(the race on the first chunk, the best ``KEEP`` on the whole split, the winner measured) twice: with full
forward passes, and from the parent's kept values (``HeldOut`` as the search uses it: on the first chunk from
the parent's run there, on the others from the values the parent kept as a finalist of the step before). Prints
per step the seconds of each, the speed-up and whether every measurement is bitwise the same. ``--search-to F``:
then the search itself (no fine-tunes) from the full network down to F of its MFLOPs, once each way: seconds per
step and whether the chains are the same.
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
from edgeslim.host.search.progressive import ChainEntry, HeldOut, progressive_search, race, shrink_candidates
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
    run, x_val, y_val = held_out_split(args.run_dir)
    supernet, info = run.supernet, run.info
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
    print("| step | candidates | full passes s | from kept values s | speed-up | same measurements |")
    print("|---|---|---|---|---|---|")
    held_outs = {shared: HeldOut(supernet, x_val, y_val, shared=shared) for shared in (False, True)}
    entry = ChainEntry(parent, cost(parent), *held_outs[False](parent))
    for step in range(args.steps):
        candidates = [(c, cost(c)) for c in shrink_candidates(supernet, entry.config)]
        seconds, picks = {}, {}
        for shared, held_out in held_outs.items():
            held_out(entry.config)  # measured whole before its step, as in the search
            started = time.perf_counter()
            config, c_cost = race(held_out, entry, candidates)
            picks[shared] = ChainEntry(config, c_cost, *held_out(config))
            seconds[shared] = time.perf_counter() - started
        same = picks[False] == picks[True] and held_outs[False].done == held_outs[True].done
        print(f"| {step} | {len(candidates)} | {seconds[False]:.2f} | {seconds[True]:.2f} | "
              f"{seconds[False] / seconds[True]:.2f}× | {'yes' if same else 'NO'} |", flush=True)
        entry = picks[True]
        print(f"step {step}: {entry.cost:.2f} MFLOPs", file=sys.stderr, flush=True)
    if args.search_to:
        search(supernet, x_val, y_val, cost, args.search_to)


def held_out_split(run_dir: str):
    """The run in ``run_dir`` and its search's held-out split (normalized); exits with one line if it has none."""
    try:
        run = load_run(run_dir)
    except EdgeslimError as error:
        sys.exit(str(error))
    seed, fraction = run.info["options"]["seed"], run.info["options"].get("val_fraction")
    if not fraction:
        sys.exit(f"{run_dir}: trained without a held-out split; train it with --val-fraction 0.15")
    dataset = load_dataset(run.info["data"], seed)
    _, _, x_val, y_val = dataset.holdout(fraction, seed)
    return run, dataset.normalize(x_val), y_val


def search(supernet, x_val, y_val, cost, share: float) -> None:
    """The search down to ``share`` of the full MFLOPs with full passes and from the parents' kept values."""
    chains = []
    print(f"\n| search to {share:g} of the MFLOPs | steps | s per step |\n|---|---|---|")
    for label in ("full passes", "from kept values"):
        held_out = HeldOut(supernet, x_val, y_val, shared=label != "full passes")
        started = time.perf_counter()
        chain = progressive_search(supernet, held_out, cost, share * cost(supernet.space.largest()), 100.0,
                                   lambda configs: None, show_progress=False)
        steps = len(chain.entries) - 1
        print(f"| {label} | {steps} | {(time.perf_counter() - started) / steps:.2f} |", flush=True)
        chains.append([e.config.channels for e in chain.entries])
    print(f"same chain: {'yes' if chains[0] == chains[1] else 'NO'}")


if __name__ == "__main__":
    main()
