"""Progressive non-uniform shrinking with a fine-tuning threshold (steps 3 and 4 of the search).

From the full network, every step tries removing the last 1/``STEPS_PER_GROUP`` of each channel group's full
channels (at least one block of ``granularity`` channels), measures each candidate on
the held-out split with BN normalizing by the held-out images' own batch statistics (one pass per candidate
instead of a recalibration pass over training images and an evaluation pass), and keeps the candidate that loses
the least per unit of cost saved. Candidates race: all are scored on the first chunk of the held-out split, the
best ``KEEP`` on the rest (bench/search_fidelity.py measures that both shortcuts rank candidates as recalibrated
statistics over the whole split do). On every chunk a candidate runs only from its changed group's first layer
on, from the parent's values there (``prefix``; the same numbers as a full pass): the finalists keep theirs, so
the winner's are the next step's without running it again. Between races of every group (every
``full_race_every`` steps and after a fine-tune), a step races only the last race's best ``SHORTLIST_TOP`` groups
and the group it shrank (``Shortlist``; bench/race_shortlist.py compares the chains). The score uses the
held-out cross-entropy rather than top-1: on small held-out splits top-1 moves in coarse steps and ties, the loss
ranks candidates smoothly. The chain of kept sub-nets is nested (each uses a prefix of the previous one's
channels). When the newest sub-net's held-out top-1 has dropped by more than ``threshold`` points since the last
fine-tune, the supernet is fine-tuned briefly over the chain found so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from edgeslim.console import console, progress
from edgeslim.errors import EdgeslimError
from edgeslim.host.nn import Supernet
from edgeslim.host.nn.ops import SlimBatchNorm2d
from edgeslim.host.search.costs import CostFn
from edgeslim.host.search.options import FULL_RACE_EVERY
from edgeslim.host.search.prefix import SharedPrefix
from edgeslim.subnets import ChannelGroup, SubnetConfig

MIN_HELD_OUT = 32  # fewer images give BN batch statistics too noisy to rank candidates
MIN_CHUNK, MAX_CHUNK = 96, 512  # images per forward pass of a candidate (each chunk's own BN statistics)
RACE_CHUNKS = 6  # the held-out split is cut into this many chunks where it has enough images
KEEP = 2  # candidates measured on the whole held-out split after the race on its first chunk
SHORTLIST_TOP = 6  # Shortlist: the last race's best groups raced again between races of every group
STEPS_PER_GROUP = 8  # a step removes 1/8 of a group's channels, as one block does in ResNet-20's widest groups


@dataclass
class ChainEntry:
    config: SubnetConfig
    cost: float
    val_top1: float
    val_loss: float

    def to_json(self) -> dict:
        return {"channels": dict(self.config.channels), "cost": round(self.cost, 5),
                "val_top1": round(self.val_top1, 2), "val_loss": round(self.val_loss, 5)}


@dataclass
class Chain:
    entries: list[ChainEntry] = field(default_factory=list)
    finetunes: list[int] = field(default_factory=list)  # chain positions after which the supernet was fine-tuned


class HeldOut:
    """Measures a configuration on the held-out split, chunk by chunk, BN using each chunk's batch statistics.
    Results are kept per configuration until ``forget`` (call it when the weights change), so a configuration
    first measured on a few chunks is completed without measuring those again. After ``share_prefix(parent)``,
    configurations run only from their first layer that differs from ``parent`` (on chunks where ``parent``'s
    values are kept: the first, and those it was measured on with ``keep`` since the last ``share_prefix``).
    ``shared=False``: every pass is a full pass (what sharing saves is measured against it)."""

    def __init__(self, supernet: Supernet, x_val: np.ndarray, y_val: np.ndarray, race_chunks: int = RACE_CHUNKS,
                 min_chunk: int = MIN_CHUNK, shared: bool = True):
        if len(y_val) < MIN_HELD_OUT:
            raise EdgeslimError(f"the search's held-out split has {len(y_val)} images; it needs {MIN_HELD_OUT} or "
                                "more: use more training data or a larger holdout_fraction")
        device = next(supernet.parameters()).device
        self.supernet = supernet
        self.x, self.y = torch.from_numpy(x_val).to(device), torch.from_numpy(y_val).to(device)
        chunks = min(max(1, len(y_val) // min_chunk), max(race_chunks, -(-len(y_val) // MAX_CHUNK)))
        size = -(-len(y_val) // chunks)  # equal chunks: no small last batch with noisy statistics
        self.bounds = [(i, min(i + size, len(y_val))) for i in range(0, len(y_val), size)]
        self.bns = [m for m in supernet.modules() if isinstance(m, SlimBatchNorm2d)]
        self.prefix = SharedPrefix(supernet) if shared else None
        self.done: dict[str, list[tuple[int, float]]] = {}  # per configuration: (correct, loss sum) per chunk
        self.calls, self.images, self.seconds = 0, 0, 0.0  # configurations measured, images forwarded, their time

    def forget(self) -> None:
        self.done.clear()
        if self.prefix:
            self.prefix.forget()

    @contextmanager
    def _measuring(self, config: SubnetConfig):
        started = time.perf_counter()
        was_training = self.supernet.training
        self.supernet.set_config(config)
        self.supernet.eval()
        for bn in self.bns:  # batch statistics; the running buffers they update are reset by recalibration
            bn.train()
        with torch.no_grad():
            yield
        self.supernet.train(was_training)
        self.seconds += time.perf_counter() - started

    def _record(self, config: SubnetConfig, logits: torch.Tensor, lo: int, hi: int) -> None:
        self.done.setdefault(config.key(), []).append((
            int((logits.argmax(1) == self.y[lo:hi]).sum()),
            float(F.cross_entropy(logits, self.y[lo:hi], reduction="sum"))))
        self.images += hi - lo

    def share_prefix(self, parent: SubnetConfig) -> None:
        """Make ``parent``'s values the ones other configurations run from: its kept ones, and on the first chunk
        (where every candidate runs) its run from the previous reference."""
        if not self.prefix:
            return
        reference = self.prefix.reference(0)
        if reference is None or reference.key() != parent.key():
            lo, hi = self.bounds[0]
            with self._measuring(parent):
                logits = self.prefix.run(parent, 0, self.x[lo:hi], keep=True)
            if not self.done.get(parent.key()):
                self.calls += 1
                self._record(parent, logits, lo, hi)
        self.prefix.promote(parent)

    def __call__(self, config: SubnetConfig, chunks: int | None = None, keep: bool = False) -> tuple[float, float]:
        """Top-1 (%) and mean cross-entropy on the first ``chunks`` chunks (None: all). ``keep``: keep the values
        of the chunks measured now, for ``share_prefix`` if ``config`` becomes the next parent."""
        done = self.done.setdefault(config.key(), [])
        bounds = self.bounds[:chunks]
        if len(done) < len(bounds):
            self.calls += not done
            with self._measuring(config):
                for index in range(len(done), len(bounds)):
                    lo, hi = bounds[index]
                    x = self.x[lo:hi]
                    logits = self.prefix.run(config, index, x, keep) if self.prefix else self.supernet(x)
                    self._record(config, logits, lo, hi)
        count = bounds[-1][1]
        return 100.0 * sum(c for c, _ in done[:len(bounds)]) / count, sum(s for _, s in done[:len(bounds)]) / count


def shrink_step(group: ChannelGroup, count: int) -> int | None:
    """The channel count one search step below ``count``: 1/``STEPS_PER_GROUP`` of the group's full channels
    less, at least one block (so a 1280-channel group takes as many steps as a 64-channel one); None at the
    smallest."""
    choices = group.choices()
    if count <= choices[0]:
        return None
    target = count - max(group.granularity, group.channels / STEPS_PER_GROUP)
    return max((c for c in choices if c <= target), default=choices[0])


def shrink_candidates(supernet: Supernet, config: SubnetConfig) -> list[SubnetConfig]:
    """``config`` with one step removed from one group, for every group that can still shrink."""
    candidates = []
    for group in supernet.space.groups:
        smaller = shrink_step(group, config.channels[group.name])
        if smaller is not None:
            candidates.append(SubnetConfig("candidate", {**config.channels, group.name: smaller}))
    return candidates


def _steps(group: ChannelGroup) -> int:
    """Search steps from the group's full channels to its smallest count."""
    count, steps = group.channels, 0
    while (count := shrink_step(group, count)) is not None:
        steps += 1
    return steps


def race(held_out: HeldOut, parent: ChainEntry, candidates: list[tuple[SubnetConfig, float]],
         keep: int = KEEP) -> tuple[SubnetConfig, float]:
    """The (candidate, cost) losing the least held-out loss per unit of cost saved: all scored on the first
    chunk, the best ``keep`` of them on the whole split (each from the parent's values, keeping its own)."""
    held_out.share_prefix(parent.config)
    return pick(held_out, parent, candidates, keep)


def pick(held_out: HeldOut, parent: ChainEntry, candidates: list[tuple[SubnetConfig, float]],
         keep: int = KEEP) -> tuple[SubnetConfig, float]:
    """``race``'s choice, on whatever ``held_out`` has measured or measures now."""
    finalists = sorted(candidates, key=lambda c: score(held_out, parent, c, chunks=1))[:keep]
    return min(finalists, key=lambda c: score(held_out, parent, c))


def score(held_out: HeldOut, parent: ChainEntry, candidate: tuple[SubnetConfig, float],
          chunks: int | None = None) -> float:
    """Held-out loss lost per unit of cost saved, on the first ``chunks`` chunks (None: all, keeping values)."""
    lost = held_out(candidate[0], chunks, keep=chunks is None)[1] - held_out(parent.config, chunks)[1]
    return lost / (parent.cost - candidate[1])


class Shortlist:
    """Which candidates a step races. Every ``every`` steps, and after the weights change, all of them; in
    between only the groups of the last race's best ``top`` and the group the last step shrank: while the
    weights stay fixed a group's score changes little from one step to the next."""

    def __init__(self, top: int = SHORTLIST_TOP, every: int = FULL_RACE_EVERY):
        self.top, self.every = top, every
        self.order: list[str] = []  # groups by their last score, best first
        self.since_full, self.shrunk = 0, None

    def forget(self) -> None:
        self.order = []

    def __call__(self, parent: ChainEntry, candidates: list[tuple[SubnetConfig, float]]):
        if not self.order or self.since_full + 1 >= self.every:
            self.since_full = 0
            return candidates
        short = {*self.order[:self.top], self.shrunk}
        shortlisted = [c for c in candidates if _group(parent.config, c[0]) in short]
        self.since_full = self.since_full + 1 if shortlisted else 0
        return shortlisted or candidates

    def update(self, held_out: HeldOut, parent: ChainEntry, raced: list[tuple[SubnetConfig, float]],
               chosen: SubnetConfig) -> None:
        scored = sorted(raced, key=lambda c: score(held_out, parent, c, chunks=1))
        groups = [_group(parent.config, c) for c, _ in scored]
        self.order = groups + [g for g in self.order if g not in groups]
        self.shrunk = _group(parent.config, chosen)


def _group(parent: SubnetConfig, candidate: SubnetConfig) -> str:
    return next(g for g, count in candidate.channels.items() if count != parent.channels[g])


def progressive_search(supernet: Supernet, held_out: HeldOut, cost: CostFn, min_cost: float, threshold: float,
                       finetune: Callable[[list[SubnetConfig]], None], show_progress: bool = True,
                       shortlist: Shortlist | None = None) -> Chain:
    """The nested chain from the full network down to ``min_cost`` (or the smallest sub-net). ``shortlist``:
    race only its candidates (None: every group at every step)."""
    current = supernet.space.largest()
    full_cost = cost(current)
    top1, loss = held_out(current)
    chain = Chain([ChainEntry(current, full_cost, top1, loss)])
    reference = top1
    with progress(show_progress) as bar:
        most_steps = sum(_steps(g) for g in supernet.space.groups)
        task = bar.add_task("search", total=most_steps, status="")
        while chain.entries[-1].cost > min_cost:
            last = chain.entries[-1]
            candidates = [(c, cost(c)) for c in shrink_candidates(supernet, last.config)]
            candidates = [(c, c_cost) for c, c_cost in candidates if c_cost < last.cost]
            if not candidates:
                break
            raced = shortlist(last, candidates) if shortlist else candidates
            candidate, c_cost = race(held_out, last, raced)
            if shortlist:
                shortlist.update(held_out, last, raced, candidate)
            c_top1, c_loss = held_out(candidate)
            config = SubnetConfig(f"chain{len(chain.entries)}", dict(candidate.channels))
            chain.entries.append(ChainEntry(config, c_cost, c_top1, c_loss))
            if reference - c_top1 > threshold:
                finetune([e.config for e in chain.entries])
                held_out.forget()
                if shortlist:
                    shortlist.forget()
                c_top1, c_loss = held_out(config)
                chain.entries[-1] = ChainEntry(config, chain.entries[-1].cost, c_top1, c_loss)
                chain.finetunes.append(len(chain.entries) - 1)
                reference = c_top1
            bar.update(task, advance=1, status=f"{len(chain.entries)} sub-nets, top-1 {c_top1:.1f}, "
                                               f"{len(chain.finetunes)} fine-tunes")
        bar.update(task, total=len(chain.entries) - 1, completed=len(chain.entries) - 1)
    if show_progress:
        console.print(f"search chain: {len(chain.entries)} nested sub-nets, {len(chain.finetunes)} fine-tunes")
    return chain
