"""Sub-net re-selection (step 5 of the search): one sub-net per budget, Pareto-optimal where possible, spaced.

For each budget (ascending), the candidates are the chain's sub-nets that fit it (cost ≤ budget), not taken by
a smaller budget, within the budget's ``window`` (cost in [budget·(1−window), budget]; the nearest one below
when none is that close). The sub-net nearest the budget is kept unless a neighbour — preferably one on the
chain's accuracy–cost Pareto front, the best held-out top-1 — beats it by more than ``margin`` points: the
standard error of held-out top-1 (``holdout_margin``): on a small held-out split a flat chain's top-1 moves by
noise alone, and without the margin the re-selection would trade budget for noise.
Every budget keeps its own sub-net: a budget is never silently dropped, and the kept set stays spread over the
cost range. Only the entries within some budget's window (``read_by_reselect``) decide the choice, so after the
fine-tunes only those need measuring again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edgeslim.errors import EdgeslimError
from edgeslim.host.search.progressive import ChainEntry

WINDOW = 0.1  # a budget's candidates: the chain's entries within this fraction below it


@dataclass
class Selection:
    budget: float
    entry: ChainEntry
    position: int


def pareto_front(entries: list[ChainEntry]) -> set[int]:
    """Positions of the entries that no cheaper-or-equal entry beats on held-out top-1."""
    return {i for i, e in enumerate(entries)
            if not any(o.cost <= e.cost and o.val_top1 > e.val_top1 for o in entries)}


def holdout_margin(top1: float, images: int) -> float:
    """The standard error, in points, of a top-1 of ``top1`` % measured on ``images`` images."""
    p = min(max(top1 / 100.0, 0.0), 1.0)
    return 100.0 * math.sqrt(max(p * (1 - p), 1e-4) / images)


def read_by_reselect(entries: list[ChainEntry], budgets: list[float], window: float = WINDOW) -> set[int]:
    """Positions whose held-out top-1 can change ``reselect``'s choice: the full network (its margin) and the
    entries within some budget's window. An entry cheaper than a window that beats the window's best entry beats
    every entry in the window too, so the window's best is kept either way; without a free entry in the window
    the costliest free one below is kept whatever its top-1."""
    return {0} | {i for i, e in enumerate(entries)
                  if any(b * (1 - window) <= e.cost <= b * (1 + 1e-9) for b in budgets)}


def reselect(entries: list[ChainEntry], budgets: list[float], window: float = WINDOW,
             margin: float = 0.0) -> list[Selection]:
    """One distinct chain entry per budget, in ascending budget order."""
    front = pareto_front(entries)
    chosen: list[Selection] = []
    taken: set[int] = set()
    for budget in sorted(budgets):
        fitting = [(i, e) for i, e in enumerate(entries) if e.cost <= budget * (1 + 1e-9) and i not in taken]
        if not fitting:
            raise EdgeslimError(f"budget {budget:.4g} is below the smallest free sub-net the search reached "
                                f"({min(e.cost for e in entries):.4g}); raise the budget, space the budgets "
                                "further or lower --granularity")
        nearby = [(i, e) for i, e in fitting if e.cost >= budget * (1 - window)] or [
            max(fitting, key=lambda ie: ie[1].cost)]
        pool = [(i, e) for i, e in nearby if i in front] or nearby
        best = max(pool, key=lambda ie: (ie[1].val_top1, ie[1].cost))
        nearest = max(nearby, key=lambda ie: ie[1].cost)
        position, entry = best if best[1].val_top1 > nearest[1].val_top1 + margin else nearest
        taken.add(position)
        chosen.append(Selection(budget, entry, position))
    return chosen
