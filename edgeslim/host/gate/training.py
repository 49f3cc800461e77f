"""DS-Net++ stage II inside `edgeslim train --method dsnet`: one gate width head per complexity weight, and the
confidence cascade's thresholds."""

from __future__ import annotations

import time

import numpy as np
import torch

from edgeslim.console import console
from edgeslim.host.data import Dataset
from edgeslim.host.gate.routing import (CASCADE_SHARES, RouteCache, cascade_metrics, cascade_route,
                                        cascade_thresholds, ladder_macs, route, routed_metrics, shared_macs,
                                        train_head)
from edgeslim.host.nn import Supernet, count_cost
from edgeslim.host.train.options import TrainOptions
from edgeslim.host.train.steps import shift
from edgeslim.subnets import SubnetConfig

DEFAULT_HEAD_TOLERANCE = 1.0  # points of held-out top-1 below the largest width a default head may lose
CASCADE_REPORTED = (0.1, 0.2, 0.3, 0.5)  # shares escalated whose test top-1 and MFLOPs run.json reports


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
    cascade = calibrate_cascade(supernet, ladder, held_out, test, macs, largest)
    if opts.show_progress:
        console.print(f"gate: {len(heads)} width heads on {len(x)} held-out images "
                      f"({time.time() - started:.1f} s); default {default['name']}; cascade escalates "
                      f"{cascade['default']:.0%} by default")
    return {"before": supernet.gate_point, "hidden": supernet.gate.hidden, "widths": [c.name for c in ladder],
            "fixed_groups": sorted(supernet.fixed_groups()), "gate_mflops": round(supernet.gate.macs() / 1e6, 4),
            "heads": heads, "default": default["name"], "cascade": cascade, "train_images": len(x),
            "seconds": round(time.time() - started, 1)}


def calibrate_cascade(supernet: Supernet, ladder: list[SubnetConfig], held_out: RouteCache, test: RouteCache,
                      macs: np.ndarray, largest_top1: float) -> dict:
    """The cascade's thresholds (held-out quantiles of the narrowest width's confidence, one per share in
    ``CASCADE_SHARES``); its test top-1 and MFLOPs escalating to the largest width at the ``CASCADE_REPORTED``
    shares (``share``: calibrated, ``escalated``: measured); the default share: the smallest whose held-out top-1
    is within ``DEFAULT_HEAD_TOLERANCE`` of the largest width's, else the most accurate."""
    thresholds = dict(zip(CASCADE_SHARES, cascade_thresholds(held_out)))
    shared = shared_macs(supernet, ladder[-1])
    points = []
    for share in CASCADE_REPORTED:
        at = {name: cascade_metrics(cache, cascade_route(cache, thresholds[share], len(ladder) - 1), macs, shared)
              for name, cache in (("test", test), ("held_out", held_out))}
        points.append({"share": share, **at["test"], "held_out": at["held_out"]})
    good = [p for p in points if p["held_out"]["top1"] >= largest_top1 - DEFAULT_HEAD_TOLERANCE]
    default = good[0] if good else max(points, key=lambda p: p["held_out"]["top1"])
    return {"shares": list(CASCADE_SHARES), "thresholds": list(thresholds.values()), "to": ladder[-1].name,
            "shared_mflops": round(shared / 1e6, 4), "points": points, "default": default["share"]}
