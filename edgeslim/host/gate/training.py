"""DS-Net++ stage II inside `edgeslim train --method dsnet`: one gate width head per complexity weight."""

from __future__ import annotations

import time

import numpy as np
import torch

from edgeslim.console import console
from edgeslim.host.data import Dataset
from edgeslim.host.gate.routing import RouteCache, ladder_macs, route, routed_metrics, train_head
from edgeslim.host.nn import Supernet, count_cost
from edgeslim.host.train.options import TrainOptions
from edgeslim.host.train.steps import shift
from edgeslim.subnets import SubnetConfig

DEFAULT_HEAD_TOLERANCE = 1.0  # points of held-out top-1 below the largest width a default head may lose


def _gate_images(dataset: Dataset, opts: TrainOptions) -> tuple[np.ndarray, np.ndarray, int]:
    """The held-out split (never trained on), clean plus ``gate_copies - 1`` randomly shifted copies."""
    _, _, x_val, y_val = dataset.holdout(opts.holdout, opts.seed)
    generator = torch.Generator().manual_seed(opts.seed)
    copies = [x_val] + [shift(torch.from_numpy(x_val), generator).numpy() for _ in range(opts.gate_copies - 1)]
    return dataset.normalize(np.concatenate(copies)), np.tile(y_val, len(copies)), len(x_val)


def train_gates(supernet: Supernet, shipped: list[SubnetConfig], dataset: Dataset, opts: TrainOptions) -> dict:
    """Train a width head per ``--complexity-weights`` on the frozen supernet; return the run's ``gate`` entry
    (heads with test top-1, average MFLOPs and width shares; the default head chosen on held-out images)."""
    started = time.time()
    ladder = sorted(shipped, key=lambda c: count_cost(supernet, c).macs)
    macs = ladder_macs(supernet, ladder)
    x, y, clean = _gate_images(dataset, opts)
    train_cache = RouteCache.compute(supernet, ladder, x, y)
    held_out = RouteCache(train_cache.hidden[:clean], train_cache.logits[:clean], train_cache.labels[:clean])
    test = RouteCache.compute(supernet, ladder, dataset.normalize(dataset.x_test), dataset.y_test)
    heads = []
    for weight in opts.gate_weights():
        name = train_head(supernet, train_cache, macs, weight, seed=opts.seed)
        heads.append({"name": name, "complexity_weight": weight,
                      **routed_metrics(test, route(supernet, test, name), macs),
                      "held_out": routed_metrics(held_out, route(supernet, held_out, name), macs)})
    largest = routed_metrics(held_out, np.full(clean, len(ladder) - 1), macs)["top1"]
    good = [h for h in heads if h["held_out"]["top1"] >= largest - DEFAULT_HEAD_TOLERANCE]
    default = min(good, key=lambda h: h["held_out"]["mflops"]) if good else max(heads, key=lambda h: h["top1"])
    if opts.show_progress:
        console.print(f"gate: {len(heads)} width heads on {len(x)} held-out images "
                      f"({time.time() - started:.1f} s); default {default['name']}")
    return {"before": supernet.gate_point, "hidden": supernet.gate.hidden, "widths": [c.name for c in ladder],
            "fixed_groups": sorted(supernet.fixed_groups()), "gate_mflops": round(supernet.gate.macs() / 1e6, 4),
            "heads": heads, "default": default["name"], "train_images": len(x),
            "seconds": round(time.time() - started, 1)}
