"""Train and test top-1 of every shipped configuration of trained runs: how much each method overfits.

    python bench/generalization_gap.py RUN_DIR [RUN_DIR ...] [--holdout 0.15]

For each run, on its own data and seeded split: top-1 and cross-entropy on the whole training split (no
augmentation, the configuration's stored BN statistics) and on the test split, and the gap between the two.
``--holdout F``: also top-1 on the two parts of the training split that a PSS search with that held-out
fraction uses (the part its first phase trained on, and the part it held out until the joint training; the
same seeded split for every run, so a run trained on all of it is the control). Prints one markdown table to
stdout. Used in bench/reports/pss_cifar10_mobilenetv3.md to tell a full network that
learned less from one that generalizes better.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F

from edgeslim import load_run
from edgeslim.errors import EdgeslimError
from edgeslim.host.data import load_dataset


@torch.no_grad()
def top1_and_loss(supernet, config, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> tuple[float, float]:
    """Top-1 (%) and mean cross-entropy of ``config`` on normalized images ``x`` (eval mode)."""
    supernet.set_config(config)
    supernet.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(x), batch_size):
        logits = supernet(torch.from_numpy(x[i:i + batch_size]))
        labels = torch.from_numpy(y[i:i + batch_size]).long()
        correct += int((logits.argmax(1) == labels).sum())
        loss += float(F.cross_entropy(logits, labels, reduction="sum"))
    return 100.0 * correct / len(x), loss / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="run directories written by edgeslim train")
    parser.add_argument("--holdout", type=float, help="also top-1 on the trained-on / held-out parts of the "
                        "training split of a PSS search with this held-out fraction (its default: 0.15)")
    args = parser.parse_args()
    if args.holdout is not None and not 0 < args.holdout < 0.5:
        sys.exit(f"--holdout {args.holdout}: use a fraction in (0, 0.5), e.g. 0.15")
    try:
        runs = [load_run(path) for path in args.runs]  # every path checked before the first row
    except EdgeslimError as error:
        sys.exit(str(error))
    parts = " | trained-on part top-1 | held-out part top-1" if args.holdout else ""
    print(f"| run | config | MFLOPs | train top-1 | test top-1 | gap | train loss | test loss{parts} |")
    print("|---" * (8 + 2 * bool(args.holdout)) + "|")
    for run in runs:
        dataset = load_dataset(run.info["data"], run.info["options"]["seed"])
        x_train, x_test = dataset.normalize(dataset.x_train), dataset.normalize(dataset.x_test)
        if args.holdout:
            x_on, y_on, x_held, y_held = dataset.holdout(args.holdout, run.info["options"]["seed"])
            parts = [(dataset.normalize(x_on), y_on), (dataset.normalize(x_held), y_held)]
        for config in run.configs:
            train_top1, train_loss = top1_and_loss(run.supernet, config, x_train, dataset.y_train)
            test_top1, test_loss = top1_and_loss(run.supernet, config, x_test, dataset.y_test)
            print(f"| {run.path.name} | {config.name} | {config.meta['mflops']:.2f} | {train_top1:.2f} | "
                  f"{test_top1:.2f} | {train_top1 - test_top1:.2f} | {train_loss:.3f} | {test_loss:.3f} |"
                  + ("".join(f" {top1_and_loss(run.supernet, config, x, y)[0]:.2f} |" for x, y in parts)
                     if args.holdout else ""), flush=True)


if __name__ == "__main__":
    main()
