"""The built-in model zoo through slimify: parameters at 224 × 224 against the reference, exactness, MFLOPs per
width, and (``--train EPOCHS``) a short US-Nets run's top-1 per width.

Per model: slimify ok / the one-line error; parameter count at 224 × 224 and 1,000 classes against torchvision's
/ timm's; max |Δ| of the full-width supernet against the original network and of an extracted quarter width
against the supernet; MFLOPs at widths 1.0 / 0.5 / 0.25 for ``--input``; with ``--train``, US-Nets top-1 % at the
four widths after that many epochs on ``--data``. torchvision and timm do not import here (their wheel is
CUDA-linked), so the built-ins stand in for their families.

    python bench/zoo.py [--input 3,32,32] [--train 10 --data digits]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_PARAMS = {"resnet18": 11_689_512, "mobilenetv2": 3_504_872, "mobilenetv3_small": 2_542_856,
                    "mobilenetv3_large": 5_483_032, "efficientnet_b0": 5_288_548, "efficientnet_lite0": 4_652_008,
                    "regnetx_400mf": 5_495_976, "regnety_400mf": 4_344_144, "resnet50": 25_557_032,
                    "resnext50_32x4d": 25_028_904, "densenet121": 7_978_856,
                    "shufflenetv2": 2_278_604}  # torchvision / timm, exact
ROUNDED_REFERENCE = {"regnetx_200mf": "2.7 M", "regnety_200mf": "3.2 M", "ghostnet": "5.18 M"}  # timm's model cards


def factory(name: str):
    from edgeslim.host.models import MODELS

    module, _, function = MODELS[name].partition(":")
    return getattr(importlib.import_module(module), function)


def check(name: str, shape: tuple[int, int, int]) -> dict:
    from edgeslim.errors import EdgeslimError
    from edgeslim.host.nn import count_cost, slimify

    row = {"model": name, "params_224": sum(p.numel() for p in factory(name)(3, 1000, 224).parameters()),
           "reference": REFERENCE_PARAMS.get(name)}
    torch.manual_seed(0)
    original = factory(name)(shape[0], 10, max(shape[1:])).eval()
    try:
        supernet = slimify(factory(name)(shape[0], 10, max(shape[1:])), shape)
    except EdgeslimError as exc:
        return {**row, "slimify": str(exc)}
    supernet.net.load_state_dict(original.state_dict())
    supernet.eval()
    x = torch.randn(8, *shape)
    with torch.no_grad():
        supernet.set_config(supernet.space.largest())
        full = float((supernet(x) - original(x)).abs().max())
        quarter = supernet.space.uniform(0.25)
        supernet.set_config(quarter)
        extracted = float((supernet.extract(quarter).eval()(x) - supernet(x)).abs().max())
    mflops = {w: round(count_cost(supernet, supernet.space.uniform(w)).mflops, 2) for w in (1.0, 0.5, 0.25)}
    return {**row, "slimify": "ok", "groups": len(supernet.space.groups), "full_vs_original": full,
            "extract_vs_supernet": extracted, "mflops": mflops, "full_width": supernet.full_width}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default="3,32,32", help="C,H,W of the exactness and MFLOPs check")
    parser.add_argument("--train", type=int, default=0, help="epochs of a US-Nets run per model (0: none)")
    parser.add_argument("--data", default="digits")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate of the training runs")
    parser.add_argument("--models", help="comma-separated subset (default: every built-in)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "zoo"))
    args = parser.parse_args()
    from edgeslim.host.models import MODELS

    names = args.models.split(",") if args.models else list(MODELS)
    shape = tuple(int(v) for v in args.input.split(","))
    rows = [check(name, shape) for name in names]
    if args.train:
        import edgeslim

        for row in rows:
            print(f"training {row['model']} ({args.train} epochs on {args.data})…", file=sys.stderr)
            run = edgeslim.train(model=row["model"], data=args.data, method="usnet", epochs=args.train, lr=args.lr,
                                 out=Path(args.out) / f"{row['model']}-{args.data}", force=True,
                                 show_progress=False)
            row["top1"] = {c.name: c.meta["top1"] for c in run.configs}
    print(f"\nbuilt-in models through slimify (input {shape}; parameters at 224 × 224, 1,000 classes)")
    print(f"{'model':20} {'slimify':8} {'params@224':>11} {'reference':>11} {'groups':>6} {'|Δ| full':>9} "
          f"{'|Δ| extract':>11} {'MFLOPs 1.0 / 0.5 / 0.25':>26}" + (f"  top-1 % w025…w100 ({args.data}, "
                                                                   f"{args.train} ep)" if args.train else ""))
    for r in rows:
        if r["slimify"] != "ok":
            print(f"{r['model']:20} {r['slimify']}")
            continue
        mflops = " / ".join(f"{v:g}" for v in r["mflops"].values())
        top1 = "  " + " / ".join(f"{v:.1f}" for v in r["top1"].values()) if "top1" in r else ""
        reference = f"{r['reference']:,}" if r["reference"] else ROUNDED_REFERENCE.get(r["model"], "-")
        print(f"{r['model']:20} {'ok':8} {r['params_224']:>11,} {reference:>11} {r['groups']:>6} "
              f"{r['full_vs_original']:>9.1e} {r['extract_vs_supernet']:>11.1e} {mflops:>26}{top1}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "zoo.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
