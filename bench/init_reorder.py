"""``--init WEIGHTS``: does reordering the pretrained network's channels (the noise ranking) help its narrow widths?

Pretrains the full network alone (``--method single``), saves its weights, then compares, per width:
- at once (no training): the pretrained network's sub-nets after BN recalibration, with and without the reorder;
- after ``--epochs`` of US-Nets training from the pretrained weights with the reorder, without it, and from
  scratch, over ``--seeds``.

    python bench/init_reorder.py [--data digits] [--model resnet20] [--pretrain-epochs 30] [--epochs 1,5] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def immediate(model: str, data: str, weights: Path, reorder: bool, seed: int = 0) -> dict[str, float]:
    """Top-1 per uniform width of the pretrained network, BN recalibrated per width, no training."""
    from edgeslim.host.data import load_dataset
    from edgeslim.host.evaluate import calibration_batches, top1
    from edgeslim.host.models import build_supernet
    from edgeslim.host.models.pretrained import load_pretrained
    from edgeslim.host.search.ranking import rank_blocks
    from edgeslim.host.train.steps import Batches

    dataset = load_dataset(data, seed)
    supernet = build_supernet(model, dataset.input_shape, dataset.num_classes)
    load_pretrained(supernet, weights)
    if reorder:
        supernet.permute_channels(rank_blocks(supernet, Batches(dataset, 64, True), seed=seed, show_progress=False))
    out = {}
    x, y = dataset.normalize(dataset.x_test), dataset.y_test
    for config in supernet.space.parse_widths("0.25,0.5,0.75,1.0"):
        supernet.recalibrate_bn(config, calibration_batches(dataset, 2000))
        out[config.name] = top1(supernet, config, x, y)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="digits")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--pretrain-epochs", type=int, default=30)
    parser.add_argument("--epochs", default="1,5", help="US-Nets epochs after the start (comma-separated)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "init_reorder"))
    args = parser.parse_args()
    import edgeslim
    from edgeslim.host.runs import load_run

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{args.model}-{args.data}-pretrained.safetensors"
    if not weights.is_file():
        print(f"pretraining {args.model} alone on {args.data} ({args.pretrain_epochs} epochs)…", file=sys.stderr)
        run = edgeslim.train(model=args.model, data=args.data, method="single", epochs=args.pretrain_epochs,
                             out=out / "pretrain", force=True, show_progress=False)
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in load_run(run.path).supernet.net.state_dict().items()}, str(weights))
    results = {"immediate": {}, "trained": {}}
    for reorder in (False, True):
        results["immediate"]["reorder" if reorder else "no reorder"] = immediate(args.model, args.data, weights,
                                                                                  reorder)
    starts = {"scratch": {}, "init, no reorder": {"init": str(weights), "init_reorder": False},
              "init + reorder": {"init": str(weights), "init_reorder": True}}
    for epochs in (int(e) for e in args.epochs.split(",")):
        for start, fields in starts.items():
            rows = []
            for seed in range(args.seeds):
                print(f"{start}: {epochs} epochs, seed {seed}…", file=sys.stderr)
                run = edgeslim.train(model=args.model, data=args.data, method="usnet", epochs=epochs, seed=seed,
                                     out=out / "runs" / f"{start.replace(' ', '').replace(',', '-')}-{epochs}-{seed}",
                                     force=True, show_progress=False, **fields)
                rows.append({c.name: c.meta["top1"] for c in run.configs})
            results["trained"][f"{start} | {epochs}"] = {w: float(np.mean([r[w] for r in rows])) for w in rows[0]}
    widths = list(next(iter(results["immediate"].values())))
    print(f"\n{args.model} on {args.data}: pretrained alone {args.pretrain_epochs} epochs; top-1 % per width")
    print(f"{'start':28} {'epochs':>6} " + " ".join(f"{w:>7}" for w in widths))
    for name, row in results["immediate"].items():
        print(f"{'pretrained, ' + name:28} {0:>6} " + " ".join(f"{row[w]:>7.2f}" for w in widths))
    for key, row in results["trained"].items():
        start, epochs = key.split(" | ")
        print(f"{start:28} {epochs:>6} " + " ".join(f"{row[w]:>7.2f}" for w in widths)
              + f"   (mean of {args.seeds} seeds)")
    (out / "init_reorder.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
