"""Loss and gradient norm of the first training steps, with and without the learning-rate warm-up.

    python bench/first_steps.py [--model mobilenetv2] [--data npz:../shared/data/cifar10-train5k.npz] [--seed 1]
                                [--steps 30] [--warmup-epochs 0,1]

US-Nets steps (sandwich rule, EMA teacher) as `edgeslim train --method usnet` takes them: batch 64, lr 0.1, the
cosine of an 18-epoch run; the same weights, batches and sub-nets for every warm-up. Prints one row per step.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

import edgeslim
from edgeslim.host.data import load_dataset
from edgeslim.host.models import build_supernet
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.host.train.methods import METHODS
from edgeslim.host.train.steps import Batches, make_optimizer, seeded, set_cosine_lr, train_step

DEFAULTS = edgeslim.TrainOptions()


def first_steps(model: str, data: str, seed: int, steps: int, warmup_epochs: float) -> list[tuple[float, float]]:
    """(loss of the full width, gradient norm) of each of the first ``steps`` US-Nets steps."""
    with seeded(seed):
        dataset = load_dataset(data, seed)
        supernet = build_supernet(model, dataset.input_shape, dataset.num_classes, DEFAULTS.granularity)
        space = supernet.space
        optimizer = make_optimizer(supernet, DEFAULTS.lr, DEFAULTS.weight_decay)
        teacher = EmaTeacher(supernet, DEFAULTS.ema_decay, space.largest())
        batches = Batches(dataset, DEFAULTS.batch_size, DEFAULTS.augment)
        rng, generator = np.random.default_rng([seed, 0]), torch.Generator().manual_seed(seed)
        rows = []
        supernet.train()
        for step, (x, y) in enumerate(batches.epoch(rng, generator)):
            if step == steps:
                break
            set_cosine_lr(optimizer, DEFAULTS.lr, step, 18 * len(batches),
                          warmup_steps=round(warmup_epochs * len(batches)))
            plan = METHODS["usnet"](space, rng, DEFAULTS.num_random, DEFAULTS.min_width, 1.0)
            loss = train_step(supernet, supernet, plan, x, y, optimizer, teacher)
            teacher.update(supernet)
            norm = math.sqrt(sum(float(p.grad.pow(2).sum()) for p in supernet.parameters() if p.grad is not None))
            rows.append((loss, norm))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mobilenetv2")
    parser.add_argument("--data", default="npz:../shared/data/cifar10-train5k.npz")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup-epochs", default="0,1", help="comma-separated warm-ups to compare")
    args = parser.parse_args()
    warmups = [float(w) for w in args.warmup_epochs.split(",")]
    runs = {w: first_steps(args.model, args.data, args.seed, args.steps, w) for w in warmups}
    print(f"{args.model} on {args.data}, seed {args.seed}: full-width loss / gradient norm per US-Nets step")
    print("| step | " + " | ".join(f"warm-up {w:g} epochs" for w in warmups) + " |")
    print("|---:|" + "---|" * len(warmups))
    for step in range(args.steps):
        print(f"| {step} | " + " | ".join(f"{runs[w][step][0]:.2f} / {runs[w][step][1]:.1f}" for w in warmups) + " |")
    print("| max | " + " | ".join(f"{max(r[0] for r in runs[w]):.2f} / {max(r[1] for r in runs[w]):.1f}"
                                   for w in warmups) + " |")


if __name__ == "__main__":
    main()
