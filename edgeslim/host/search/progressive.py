"""Progressive non-uniform shrinking with a fine-tuning threshold (steps 3 and 4 of the search).

From the full network, every step tries removing the last block of each channel group, measures each candidate on
the held-out split with BN normalizing by the held-out images' own batch statistics (one pass per candidate
instead of a recalibration pass over training images and an evaluation pass: half the cost, and
bench/search_fidelity.py measures that it ranks candidates as recalibrated statistics do), and keeps the candidate
that loses the least per unit of cost saved. The score uses the held-out cross-entropy rather than top-1: on small
held-out splits top-1 moves in coarse steps and ties, the loss ranks candidates smoothly. The chain of kept
sub-nets is nested (each uses a prefix of the previous one's channels). When the newest sub-net's held-out top-1
has dropped by more than ``threshold`` points since the last fine-tune, the supernet is fine-tuned briefly over
the chain found so far.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from edgeslim.console import console, progress
from edgeslim.errors import EdgeslimError
from edgeslim.host.nn import Supernet
from edgeslim.host.nn.ops import SlimBatchNorm2d
from edgeslim.host.search.costs import CostFn
from edgeslim.subnets import SubnetConfig

MIN_HELD_OUT = 32  # fewer images give BN batch statistics too noisy to rank candidates
MAX_CHUNK = 512  # images per forward pass of a candidate


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
    """Measures a configuration on the held-out split in one pass, BN using each chunk's batch statistics."""

    def __init__(self, supernet: Supernet, x_val: np.ndarray, y_val: np.ndarray):
        if len(y_val) < MIN_HELD_OUT:
            raise EdgeslimError(f"the search's held-out split has {len(y_val)} images; it needs {MIN_HELD_OUT} or "
                                "more: use more training data or a larger holdout_fraction")
        device = next(supernet.parameters()).device
        self.supernet = supernet
        self.x, self.y = torch.from_numpy(x_val).to(device), torch.from_numpy(y_val).to(device)
        chunks = -(-len(y_val) // MAX_CHUNK)
        self.chunk = -(-len(y_val) // chunks)  # equal chunks: no small last batch with noisy statistics
        self.bns = [m for m in supernet.modules() if isinstance(m, SlimBatchNorm2d)]
        self.calls, self.seconds = 0, 0.0  # how many candidates, and the time they took

    @torch.no_grad()
    def __call__(self, config: SubnetConfig) -> tuple[float, float]:
        started = time.perf_counter()
        was_training = self.supernet.training
        self.supernet.set_config(config)
        self.supernet.eval()
        for bn in self.bns:  # batch statistics; the running buffers they update are reset by every recalibration
            bn.train()
        logits = torch.cat([self.supernet(self.x[i:i + self.chunk]) for i in range(0, len(self.x), self.chunk)])
        self.supernet.train(was_training)
        self.calls += 1
        self.seconds += time.perf_counter() - started
        return 100.0 * float((logits.argmax(1) == self.y).float().mean()), float(F.cross_entropy(logits, self.y))


def shrink_candidates(supernet: Supernet, config: SubnetConfig) -> list[SubnetConfig]:
    """``config`` with one block removed from one group, for every group that can still shrink."""
    candidates = []
    for group in supernet.space.groups:
        choices = group.choices()
        i = choices.index(config.channels[group.name])
        if i > 0:
            candidates.append(SubnetConfig("candidate", {**config.channels, group.name: choices[i - 1]}))
    return candidates


def progressive_search(supernet: Supernet, held_out: HeldOut, cost: CostFn, min_cost: float, threshold: float,
                       finetune: Callable[[list[SubnetConfig]], None], show_progress: bool = True) -> Chain:
    """The nested chain from the full network down to ``min_cost`` (or the smallest sub-net)."""
    current = supernet.space.largest()
    full_cost = cost(current)
    top1, loss = held_out(current)
    chain = Chain([ChainEntry(current, full_cost, top1, loss)])
    reference = top1
    with progress(show_progress) as bar:
        most_steps = sum(len(g.choices()) - 1 for g in supernet.space.groups)
        task = bar.add_task("search", total=most_steps, status="")
        while chain.entries[-1].cost > min_cost:
            last = chain.entries[-1]
            best = None
            for candidate in shrink_candidates(supernet, last.config):
                c_cost = cost(candidate)
                if c_cost >= last.cost:
                    continue
                c_top1, c_loss = held_out(candidate)
                score = (c_loss - last.val_loss) / (last.cost - c_cost)
                if best is None or score < best[0]:
                    best = (score, candidate, c_cost, c_top1, c_loss)
            if best is None:
                break
            _, candidate, c_cost, c_top1, c_loss = best
            config = SubnetConfig(f"chain{len(chain.entries)}", dict(candidate.channels))
            chain.entries.append(ChainEntry(config, c_cost, c_top1, c_loss))
            if reference - c_top1 > threshold:
                finetune([e.config for e in chain.entries])
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
