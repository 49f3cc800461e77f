"""Does racing a shortlist of groups between full races find as good a chain as racing every group?

    python bench/race_shortlist.py RUN_DIR [--search-to 0.25] [--top 6] [--every 4] [--threads 1]

RUN_DIR: a trained run with a held-out split, as ``train --method pss`` leaves before its search. Runs the search
(no fine-tunes, so the weights stay fixed and both searches see the same network) from the full network down to
``--search-to`` of its MFLOPs twice: racing every group at every step, and with ``Shortlist(top, every)``. Prints
the seconds per step, the candidates measured per step, and the held-out top-1 and loss of each chain at the
budgets 0.75 / 0.5 / 0.25 of the MFLOPs (the chain's member at or just below each), which re-selection picks from.
"""

from __future__ import annotations

import argparse
import time

import torch
from race_prefix import held_out_split  # the run and its held-out split, one line if it has none

from edgeslim.host.search.costs import mflops_cost
from edgeslim.host.search.options import FULL_RACE_EVERY
from edgeslim.host.search.progressive import SHORTLIST_TOP, HeldOut, Shortlist, progressive_search

BUDGETS = (0.75, 0.5, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--search-to", type=float, default=0.25, help="share of the MFLOPs (default %(default)s)")
    parser.add_argument("--top", type=int, default=SHORTLIST_TOP, help="groups raced between full races")
    parser.add_argument("--every", type=int, default=FULL_RACE_EVERY, help="steps from one full race to the next")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    run, x_val, y_val = held_out_split(args.run_dir)
    supernet, info = run.supernet, run.info
    cost = mflops_cost(supernet)
    full = cost(supernet.space.largest())
    print(f"{args.run_dir} ({info['model']}, {full:.2f} MFLOPs, {len(supernet.space.groups)} channel groups), "
          f"search to {args.search_to:g} of the MFLOPs, {args.threads} thread(s)")
    print("| race | steps | s per step | candidates per step | "
          + " | ".join(f"top-1 / loss at {b:g}" for b in BUDGETS) + " |")
    print("|---|---|---|---|" + "---|" * len(BUDGETS))
    for label, shortlist in (("every group", None), (f"shortlist {args.top}, all every {args.every}",
                                                      Shortlist(args.top, args.every))):
        held_out = HeldOut(supernet, x_val, y_val)
        started = time.perf_counter()
        chain = progressive_search(supernet, held_out, cost, args.search_to * full, 100.0, lambda configs: None,
                                   show_progress=False, shortlist=shortlist)
        seconds, steps = time.perf_counter() - started, len(chain.entries) - 1
        at = [max((e for e in chain.entries if e.cost <= b * full + 1e-9), key=lambda e: e.cost, default=None)
              for b in BUDGETS]
        print(f"| {label} | {steps} | {seconds / steps:.2f} | {held_out.calls / steps:.1f} | "
              + " | ".join(f"{e.val_top1:.2f} / {e.val_loss:.4f}" if e else "-" for e in at) + " |", flush=True)


if __name__ == "__main__":
    main()
