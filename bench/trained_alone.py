"""The trained-alone headroom of finished PSS comparisons: PSS against a network of the same MFLOPs trained alone.

    python bench/trained_alone.py RESULTS.json [...] --model resnet20 --data npz:PATH [--budgets 0.25,0.5]
                                  [--seeds 0,1,2] [--epochs N] [--out bench/results/alone]

For each seed in the results of ``bench/pss_vs_usnet.py`` (a flat results.json, or one keyed by seed as in
``bench/reports/``) and each budget: the widest uniform width whose MFLOPs fit the budget, with channels counted
one by one (granularity 1, so a budget is met to within a channel, not a multiple of 8), trained alone
(``train --method single``) on that seed's split for as many epochs as the seed's PSS saw (its epochs plus its
fine-tunes, rounded; ``--epochs`` overrides). Prints, per budget, PSS top-1, trained-alone top-1 and PSS − alone
(mean ± standard error over the seeds, then per seed), and writes ``alone.json`` under ``--out``. Finished runs
under ``--out`` are reused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import edgeslim
from edgeslim.host.data import load_dataset
from edgeslim.host.models import build_supernet
from edgeslim.host.nn import count_cost
from pss_vs_usnet import BUDGETS, _mean_se, flat_results


def entries(paths: list[Path]) -> dict[str, dict]:
    """``<data>/seed<S>`` -> one seed's comparison, from flat or seed-keyed results files."""
    found = {}
    for path in paths:
        found.update(flat_results(json.loads(path.read_text())))
    return found


def widths_within(model: str, data: str, budgets: list[float]) -> dict[float, tuple[float, float]]:
    """Per budget, the widest uniform width (in steps of 0.01) whose MFLOPs fit that share of the full network's,
    counted at granularity 1, and its fraction of the full MFLOPs."""
    dataset = load_dataset(data, 0)
    supernet = build_supernet(model, dataset.input_shape, dataset.num_classes, granularity=1)
    full = count_cost(supernet, supernet.space.largest()).mflops
    fractions = {float(w): count_cost(supernet, supernet.space.uniform(float(w))).mflops / full
                 for w in np.round(np.arange(0.05, 1.001, 0.01), 2)}
    widest = {b: max(w for w, f in fractions.items() if f <= b + 1e-9) for b in budgets}
    return {b: (w, fractions[w]) for b, w in widest.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="results.json of bench/pss_vs_usnet.py runs")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--data", required=True, help="the data those runs trained on (npz:PATH or a built-in name)")
    parser.add_argument("--budgets", default="0.25,0.5", help="budgets (fractions of full MFLOPs) to train alone")
    parser.add_argument("--seeds", help="only these seeds, e.g. 0,1,2 (default: every seed in the results)")
    parser.add_argument("--epochs", type=int, help="epochs of each network trained alone (default: as PSS saw)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/alone"))
    args = parser.parse_args()
    for path in args.results:
        if not path.is_file():
            parser.error(f"{path}: no such results.json (a finished bench/pss_vs_usnet.py run's --out holds one)")
    budgets = [float(b) for b in args.budgets.split(",")]
    if any(b not in BUDGETS for b in budgets):
        parser.error(f"--budgets: choose among {BUDGETS}")
    widths = widths_within(args.model, args.data, budgets)
    rows = {}
    for key, entry in sorted(entries(args.results).items()):
        seed = int(key.rsplit("seed", 1)[1])
        if args.seeds and str(seed) not in args.seeds.split(","):
            continue
        epochs = args.epochs or entry["epochs_pss"] + round(entry["search"]["finetunes"]
                                                            * entry["search"]["finetune_epochs"])
        for budget in budgets:
            width, fraction = widths[budget]
            out = args.out / f"{args.model}-w{round(width * 100):03d}-e{epochs}-s{seed}"
            if not (out / "run.json").is_file():
                print(f"{key}: training width {width} ({fraction:.3f} of full MFLOPs) alone, {epochs} epochs",
                      file=sys.stderr, flush=True)
                edgeslim.train(model=args.model, data=args.data, method="single", width=width, granularity=1,
                               epochs=epochs, seed=seed, out=out, show_progress=False)
            alone = json.loads((out / "run.json").read_text())["configs"][0]["meta"]
            pss = entry["pss"][BUDGETS.index(budget)]
            rows.setdefault(budget, []).append({"seed": seed, "epochs": epochs, "width": width,
                                                "alone_top1": alone["top1"], "alone_mflops": alone["mflops"],
                                                "pss_top1": pss["top1"], "pss_mflops": pss["mflops"]})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "alone.json").write_text(json.dumps({str(b): r for b, r in rows.items()}, indent=2))
    print(f"\n## {args.model}: PSS against a network of the same MFLOPs trained alone ({len(rows[budgets[0]])} seeds)")
    print("| budget | width alone (MFLOPs) | PSS top-1 (MFLOPs) | alone top-1 | PSS − alone | per seed |")
    print("|---|---|---|---|---|---|")
    for budget, seeds in rows.items():
        gaps = [r["pss_top1"] - r["alone_top1"] for r in seeds]
        print(f"| {budget} | w{round(seeds[0]['width'] * 100):03d} ({seeds[0]['alone_mflops']:.2f}) | "
              f"{_mean_se([r['pss_top1'] for r in seeds])} ({np.mean([r['pss_mflops'] for r in seeds]):.2f}) | "
              f"{_mean_se([r['alone_top1'] for r in seeds])} | {_mean_se(gaps, '+.2f')} | "
              f"{' / '.join(f'{g:+.2f}' for g in gaps)} |")


if __name__ == "__main__":
    main()
