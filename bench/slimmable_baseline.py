"""Width -> MFLOPs -> top-1 for US-Nets (`usnet`) versus each width trained alone (`single`, same epochs).

    python bench/slimmable_baseline.py [--datasets digits,mnist5k] [--epochs 30] [--out bench/results/baseline]

Prints one table per dataset, writes results.json and accuracy_vs_mflops_<dataset>.png under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edgeslim.plot import plot_accuracy
from edgeslim.train import TrainOptions, train

WIDTHS = (0.25, 0.5, 0.75, 1.0)


def rows_of(info: dict) -> list[dict]:
    return [{"name": c["name"], **c["meta"]} for c in info["configs"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist5k")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench/results/baseline")
    args = parser.parse_args()
    out = Path(args.out)
    results = {}
    for data in args.datasets.split(","):
        started = time.time()
        common = dict(model=args.model, data=data, epochs=args.epochs, seed=args.seed, force=True)
        _, usnet = train(TrainOptions(method="usnet", out=str(out / f"{data}-usnet"), **common))
        usnet_seconds = time.time() - started
        single = []
        for width in WIDTHS:
            _, info = train(TrainOptions(method="single", width=width, out=str(out / f"{data}-single-{width}"),
                                         **common))
            single += rows_of(info)
        results[data] = {"usnet": rows_of(usnet), "single": single, "usnet_seconds": round(usnet_seconds, 1),
                         "total_seconds": round(time.time() - started, 1)}
        plot_accuracy({"US-Nets (one supernet)": rows_of(usnet), "individually trained": single},
                      out / f"accuracy_vs_mflops_{data}.png", f"{args.model} on {data}, {args.epochs} epochs")
    (out / "results.json").write_text(json.dumps(results, indent=2))
    for data, r in results.items():
        print(f"\n{args.model} on {data}, {args.epochs} epochs, seed {args.seed} "
              f"(usnet train {r['usnet_seconds']} s)")
        print("| width | MFLOPs | usnet top-1 | individually trained top-1 |")
        print("|---|---|---|---|")
        for width, u, s in zip(WIDTHS, r["usnet"], r["single"]):
            print(f"| {width} | {u['mflops']:.3f} | {u['top1']:.2f} | {s['top1']:.2f} |")


if __name__ == "__main__":
    main()
