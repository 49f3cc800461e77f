"""DS-Net++ gate heads: which width each image is taught to run at, on a trained dsnet run.

    python bench/gate_targets.py RUN [RUN ...] [--weights 0,0.25,0.5,1,2]

Retrains the run's width heads on its frozen supernet (the held-out images the gate learns on, as
``train --method dsnet`` does) with two target rules and reports, on the test split, each head's top-1, average
MFLOPs, share of images per width and the gain over the run's static widths at equal average MACs:

- ``sgs``: DS-Net++'s sandwich gate sparsification, the smallest width where it is right, else the largest;
- ``narrowest``: the narrowest width that is right, else the largest (edgeslim's default).

Several runs (seeds) are averaged per rule and weight.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from edgeslim.host.data import load_dataset
from edgeslim.host.gate.routing import RouteCache, ladder_macs, route, routed_metrics, train_head, width_targets
from edgeslim.host.gate.training import _gate_images
from edgeslim.host.runs import load_run


def sgs_targets(cache: RouteCache) -> torch.Tensor:
    """DS-Net++'s sandwich gate sparsification: 0 where the smallest width is right, else the largest."""
    return torch.where(cache.logits[:, 0].argmax(1) == cache.labels, 0, cache.logits.shape[1] - 1)


RULES = {"sgs": sgs_targets, "narrowest": width_targets}


def measure(run_dir: Path, weights: list[float]) -> list[dict]:
    run = load_run(run_dir)
    info, supernet = run.info, run.supernet
    ladder = [c for name in info["gate"]["widths"] for c in run.configs if c.name == name]
    macs = ladder_macs(supernet, ladder)
    options = info["options"]
    dataset = load_dataset(info["data"], options["seed"])
    gate_opts = SimpleNamespace(holdout=options["val_fraction"], seed=options["seed"],
                                gate_copies=options["gate_copies"])
    x, y, _ = _gate_images(dataset, gate_opts)
    train = RouteCache.compute(supernet, ladder, x, y)
    test = RouteCache.compute(supernet, ladder, dataset.normalize(dataset.x_test), dataset.y_test)
    static = sorted((c["meta"]["mflops"], c["meta"]["top1"]) for c in info["configs"])
    rows = []
    for rule, targets in RULES.items():
        for weight in weights:
            name = train_head(supernet, train, macs, weight, seed=options["seed"], targets=targets(train))
            metrics = routed_metrics(test, route(supernet, test, name), macs)
            equal = float(np.interp(metrics["mflops"], [m for m, _ in static], [t for _, t in static]))
            rows.append({"rule": rule, "weight": weight, **metrics, "gain": metrics["top1"] - equal})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="trained dsnet run directories (one per seed)")
    parser.add_argument("--weights", default="0,0.25,0.5,1,2", help="complexity weights, one head each")
    args = parser.parse_args()
    weights = [float(w) for w in args.weights.split(",")]
    per_run = [measure(r, weights) for r in args.runs]
    print(f"| rule | complexity weight | top-1 % | avg MFLOPs | share per width | gain vs static, equal MACs "
          f"({len(per_run)} runs) |")
    print("|---|---:|---:|---:|---|---:|")
    for i, row in enumerate(per_run[0]):
        same = [rows[i] for rows in per_run]
        share = np.mean([r["share"] for r in same], 0)
        print(f"| {row['rule']} | {row['weight']:g} | {np.mean([r['top1'] for r in same]):.2f} | "
              f"{np.mean([r['mflops'] for r in same]):.3f} | {' · '.join(f'{s:.0%}' for s in share)} | "
              f"{np.mean([r['gain'] for r in same]):+.2f} |")


if __name__ == "__main__":
    main()
