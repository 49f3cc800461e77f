"""PSS versus US-Nets versus individually trained widths, at matched MFLOPs, over several seeds.

    python bench/pss_vs_usnet.py [--datasets digits,mnist5k] [--epochs digits=30,mnist5k=10] [--seeds 0,1,2]
                                 [--out bench/results/pss]

Per dataset and seed: ``train --method pss`` with E epochs (supernet E - final, joint training ``final``),
then ``usnet`` with E + (fine-tune epochs the search used), so both see the same number of training epochs
(or that seed's US-Nets rows from ``--usnet-from``, an earlier results.json, where it trained as many with the
same ``--warmup-epochs``).
Each budget b (fraction of the full model's MFLOPs) is compared with US-Nets at the widest uniform width whose
MFLOPs fit b (BN recalibrated). For the first seed, each uniform width is also trained alone for E epochs
(the individually-trained reference; also added to an earlier result under --out that lacks it). Prints the
tables, writes results.json and plots under --out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import edgeslim
from edgeslim import SearchOptions, load_run
from edgeslim.host.data import load_dataset
from edgeslim.host.evaluate import calibration_batches, describe
from edgeslim.host.nn import count_cost
from edgeslim.host.plot import plot_accuracy
from edgeslim.host.search.options import JOINT_SHARE, JOINTS, SCHEDULES, STARTS
from edgeslim.host.search.pipeline import search_device

BUDGETS = (0.25, 0.5, 0.75, 1.0)
WIDTHS = (0.25, 0.5, 0.75, 1.0)


def usnet_at_budgets(run_dir: Path, budgets: list[float]) -> list[dict]:
    """US-Nets at the widest uniform width whose MFLOPs fit each budget (fraction of full MFLOPs)."""
    run = load_run(run_dir)
    supernet, space = run.supernet, run.supernet.space
    device = search_device("auto")
    supernet.to(device)
    dataset = load_dataset(run.info["data"], run.info["options"]["seed"])
    full = count_cost(supernet, space.largest()).mflops
    grid = {}
    for width in np.linspace(0.05, 1.0, 96):
        config = space.uniform(float(width))
        grid[config.key()] = (config, count_cost(supernet, config).mflops)
    rows = []
    for budget in budgets:
        config, _ = max((c for c in grid.values() if c[1] <= budget * full + 1e-9), key=lambda c: c[1])
        supernet.recalibrate_bn(config, calibration_batches(dataset, run.info["options"]["calib_samples"],
                                                            device=device))
        rows.append({"budget": budget, **describe(supernet, config, dataset)})
    return rows


def _trained(run_dir: Path, epochs: int, warmup: float, teacher: str = "live") -> bool:
    """A finished run in ``run_dir`` trained for ``epochs`` with ``teacher`` and ``warmup`` (see _trained_epochs)."""
    return _trained_epochs(run_dir, warmup, teacher) == epochs


def _trained_epochs(run_dir: Path, warmup: float, teacher: str = "live") -> int | None:
    """The epochs of the finished run in ``run_dir`` if it trained with ``teacher`` and ``warmup`` warm-up epochs
    (runs older than the option: none), else None."""
    sidecar = run_dir / "run.json"
    if not sidecar.is_file():
        return None
    options = json.loads(sidecar.read_text())["options"]
    same = options.get("teacher", "live") == teacher and options.get("warmup_epochs", 0) == warmup
    return options["epochs"] if same else None


def _searched(run_dir: Path, epochs: int, warmup: float, opts: SearchOptions) -> bool:
    """A finished PSS run in ``run_dir`` of ``epochs``, ``warmup``, ``opts``' start and joint-training epochs (the
    other options are --out's to keep apart)."""
    sidecar = run_dir / "run.json"
    if not sidecar.is_file():
        return False
    info = json.loads(sidecar.read_text())
    search = info.get("search", {})
    return (info["method"] == "pss" and search.get("start") == opts.start
            and info["options"].get("warmup_epochs", 0) == warmup
            and search.get("schedule", "split") == opts.schedule and search["final_epochs"] == opts.final_epochs
            and search.get("joint", "kept") == opts.joint
            and info["options"]["epochs"] + search["final_epochs"] == epochs)  # options: the first phase's


def compare(args: argparse.Namespace, out: Path, name: str, epochs: int, common: dict) -> dict:
    """One seed: PSS with ``epochs``, then US-Nets with ``epochs`` + the search's fine-tune epochs."""
    final = max(1, round(epochs * args.final_fraction))
    started = time.time()
    search_opts = SearchOptions(final_epochs=final, final_lr_scale=args.final_lr_scale, threshold=args.threshold,
                                finetune_epochs=args.finetune_epochs, start=args.start, schedule=args.schedule,
                                joint=args.joint, show_progress=args.progress)
    pss_dir = out / f"{name}-pss-{common['seed']}"
    if args.reuse and _searched(pss_dir, epochs, common["warmup_epochs"], search_opts):
        pss = json.loads((pss_dir / "run.json").read_text())
        pss_seconds = pss["train_seconds"] + pss["search"]["seconds"]["total"]
    else:
        pss = edgeslim.train(method="pss", epochs=epochs, out=pss_dir, teacher=args.teacher,
                             val_fraction=args.val_fraction, search=search_opts, **common).info
        pss_seconds = time.time() - started
    extra = round(pss["search"]["finetunes"] * pss["search"]["finetune_epochs"])
    started = time.time()
    usnet_dir, usnet_seconds = out / f"{name}-usnet-{common['seed']}", None
    teacher = edgeslim.TrainOptions(method="usnet", teacher=args.usnet_teacher).distill
    shortest, longest = epochs + extra - args.usnet_shorter, epochs + extra + args.usnet_longer
    earlier = min((e for e in args.usnet_earlier.get(f"{name}/seed{common['seed']}", [])
                   if shortest <= e.get("epochs_usnet", -1) <= longest
                   and e.get("warmup_epochs", 0) == common["warmup_epochs"]),
                  key=lambda e: abs(e["epochs_usnet"] - epochs - extra), default=None)
    if earlier:  # the same seed's US-Nets for these epochs (or the nearest within the two options), measured before
        extra = earlier["epochs_usnet"] - epochs
        print(f"{name}/seed{common['seed']}: US-Nets for {epochs + extra} epochs from --usnet-from", flush=True)
        usnet_rows, usnet_seconds = earlier["usnet"], earlier["usnet_seconds"]
    else:
        trained = _trained_epochs(usnet_dir, common["warmup_epochs"], teacher) if args.reuse else None
        if trained is not None and shortest <= trained <= longest:  # --usnet-shorter / --usnet-longer, as above
            extra = trained - epochs
            usnet_seconds = json.loads((usnet_dir / "run.json").read_text())["train_seconds"]
        else:
            edgeslim.train(method="usnet", epochs=epochs + extra, out=usnet_dir, teacher=args.usnet_teacher,
                           **common)
            usnet_seconds = round(time.time() - started, 1)
        usnet_rows = usnet_at_budgets(usnet_dir, list(BUDGETS))
    print(f"done {name}/seed{common['seed']}: pss {pss_seconds:.0f} s, usnet {usnet_seconds} s",
          flush=True)
    return {"epochs_pss": epochs, "epochs_usnet": epochs + extra, "warmup_epochs": common["warmup_epochs"],
            "val_fraction": pss["search"]["val_fraction"],
            "pss": [{"budget": b, "name": c["name"], **c["meta"]} for b, c in zip(
                pss["search"]["budgets"], pss["configs"])],
            "usnet": usnet_rows,
            "search": {"schedule": pss["search"].get("schedule", "split"),  # runs before --schedule: split
                       "joint": pss["search"].get("joint", "kept"),  # runs before --joint: kept
                       **{k: pss["search"][k] for k in ("start", "finetunes", "finetune_epochs", "candidates",
                                                        "seconds")}},
            "before_joint": pss["search"]["before_joint"], "supernet_seconds": pss["train_seconds"],
            "chain": pss["search"]["chain"], "pss_seconds": round(pss_seconds, 1),
            "usnet_seconds": usnet_seconds}


def add_singles(entry: dict, out: Path, stem: str, name: str, epochs: int, common: dict, reuse: bool) -> None:
    """Each uniform width trained alone for ``epochs`` (the reference, shared by both starts), and that seed's
    US-Nets at those widths."""
    entry["single"] = []
    for width in WIDTHS:
        single_dir = out / f"{stem}-single-{width}"
        if not (reuse and _trained(single_dir, epochs, common["warmup_epochs"])):
            edgeslim.train(method="single", width=width, epochs=epochs, out=single_dir, **common)
        entry["single"] += [{"name": c["name"], **c["meta"]} for c in load_run(single_dir).info["configs"]]
    usnet_dir = out / f"{name}-usnet-{common['seed']}"
    entry["usnet_widths"] = [{"name": c["name"], **c["meta"]} for c in load_run(usnet_dir).info["configs"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="digits,mnist5k", help="built-in names or npz:PATH (results are "
                        "keyed by the file's stem)")
    parser.add_argument("--epochs", default="digits=30,mnist5k=10")
    parser.add_argument("--final-fraction", type=float, default=JOINT_SHARE,
                        help="share of epochs for joint training (default %(default)s)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, e.g. 0,1,2 (default: 0,1,2)")
    parser.add_argument("--final-lr-scale", type=float, default=SearchOptions.final_lr_scale)
    parser.add_argument("--threshold", type=float, default=SearchOptions.threshold,
                        help="fine-tuning threshold of the search (points of held-out top-1)")
    parser.add_argument("--progress", action="store_true", help="show training and search progress")
    parser.add_argument("--teacher", choices=["live", "ema"],
                        help="what PSS's distilled sub-nets learn from (default: edgeslim's for --start; US-Nets: "
                             "--usnet-teacher)")
    parser.add_argument("--usnet-teacher", choices=["live", "ema"],
                        help="live = the US-Nets paper's in-place distillation (default: edgeslim's, ema)")
    parser.add_argument("--start", default=SearchOptions.start, choices=STARTS,
                        help="what PSS starts from: a US-Nets supernet, or the full network trained alone "
                             "(results keyed <data>-full)")
    parser.add_argument("--finetune-epochs", type=float, default=SearchOptions.finetune_epochs,
                        help="epochs of each fine-tune of the search (fractions allowed; default 0.25 with "
                             "--start full, 1 with usnet)")
    parser.add_argument("--val-fraction", type=float,
                        help="share of the training split PSS's first phase leaves out for the search (default: "
                             "edgeslim's, 0.15; 0 trains on all of it and searches on a split it was trained on)")
    parser.add_argument("--schedule", default=SearchOptions.schedule, choices=SCHEDULES,
                        help="pss: the learning rate across its phases (see SearchOptions)")
    parser.add_argument("--joint", default=SearchOptions.joint, choices=JOINTS,
                        help="pss: what the joint training's distilled steps sample (see SearchOptions)")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--warmup-epochs", type=float, default=edgeslim.TrainOptions.warmup_epochs,
                        help="of every training (0: as the runs before the option)")
    parser.add_argument("--out", default="bench/results/pss")
    parser.add_argument("--no-singles", dest="singles", action="store_false",
                        help="skip the individually-trained widths")
    parser.add_argument("--merge", nargs="*", default=[],
                        help="results.json files of other runs (or bench/reports/ files keyed by seed) to report with")
    parser.add_argument("--report-only", action="store_true", help="only print the report of --out (and --merge)")
    parser.add_argument("--usnet-from", type=Path, nargs="+", default=[],
                        help="results.json files of earlier runs: take each seed's US-Nets rows from one where it "
                             "trained the same epochs (a PSS variant against the same baseline)")
    parser.add_argument("--usnet-longer", type=int, default=0,
                        help="with --usnet-from or --reuse: also take a US-Nets that trained up to this many epochs "
                             "more than PSS (the nearest; a comparison that favours US-Nets) instead of training one")
    parser.add_argument("--usnet-shorter", type=int, default=0,
                        help="with --usnet-from or --reuse: also take a US-Nets that trained up to this many epochs "
                             "fewer than PSS (a comparison that favours PSS; the report prints both epochs)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse finished pss, usnet and single runs under --out that have the right epochs")
    args = parser.parse_args()
    args.usnet_earlier = {}  # "<data>/seed<S>" -> every earlier result of that seed
    for path in args.usnet_from:
        if not path.is_file():
            parser.error(f"--usnet-from {path}: no such results.json (a finished bench run's --out holds one)")
        for key, entry in json.loads(path.read_text()).items():
            args.usnet_earlier.setdefault(key, []).append(entry)
    epochs_of = {k: int(v) for k, v in (p.split("=") for p in args.epochs.split(","))}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for data in ([] if args.report_only else args.datasets.split(",")):
        if data not in epochs_of:
            parser.error(f"no epochs for {data}: add {data}=N to --epochs")
        epochs = epochs_of[data]
        stem = Path(data.split(":", 1)[-1]).stem  # npz:bench/data/fashion5k.npz -> fashion5k
        name = stem if args.start == "usnet" else f"{stem}-{args.start}"
        for seed in (int(s) for s in args.seeds.split(",")):
            key = f"{name}/seed{seed}"
            common = dict(model=args.model, data=data, seed=seed, warmup_epochs=args.warmup_epochs, force=True,
                          show_progress=args.progress)
            if key not in results:
                results[key] = compare(args, out, name, epochs, common)
            if args.singles and seed == int(args.seeds.split(",")[0]) and "single" not in results[key]:
                add_singles(results[key], out, stem, name, epochs, common, args.reuse)
            results_path.write_text(json.dumps(results, indent=2))
    for other in args.merge:
        if not Path(other).is_file():
            parser.error(f"--merge {other}: no such results.json (a finished bench run's --out holds one)")
        for key, value in flat_results(json.loads(Path(other).read_text())).items():
            results.setdefault(key, value)
    report(dict(sorted(results.items())), out)


def flat_results(results: dict) -> dict[str, dict]:
    """``<data>/seed<S>`` -> one seed's comparison, from a flat results.json or one keyed by seed (reports/)."""
    found = {}
    for key, value in results.items():
        found.update(value if "pss" not in value else {key: value})
    return found


def report(results: dict, out: Path) -> None:
    datasets = sorted({k.split("/")[0] for k in results})
    for data in datasets:
        runs = [v for k, v in results.items() if k.startswith(data + "/")]
        first = runs[0]
        usnet_epochs = "/".join(str(r["epochs_usnet"]) for r in runs)
        print(f"\n## {data}: {len(runs)} seeds, pss {first['epochs_pss']} epochs (+fine-tunes), "
              f"usnet {usnet_epochs} epochs")
        print("| budget (of full MFLOPs) | pss MFLOPs | pss top-1 | usnet MFLOPs | usnet top-1 | gain |")
        print("|---|---|---|---|---|---|")
        gains_all = []
        for i, budget in enumerate(BUDGETS):
            pss_row = [r["pss"][i] for r in runs if i < len(r["pss"])]
            us_row = [r["usnet"][i] for r in runs]
            gains = [p["top1"] - u["top1"] for p, u in zip(pss_row, us_row)]
            gains_all.append(np.mean(gains))
            print(f"| {budget} | {np.mean([p['mflops'] for p in pss_row]):.3f} | "
                  f"{_mean_se([p['top1'] for p in pss_row])} | {np.mean([u['mflops'] for u in us_row]):.3f} | "
                  f"{_mean_se([u['top1'] for u in us_row])} | {_mean_se(gains, '+.2f')} |")
        per_seed = [np.mean([p["top1"] - u["top1"] for p, u in zip(r["pss"], r["usnet"])]) for r in runs]
        print(f"(± standard error over {len(runs)} seeds) average gain {_mean_se(per_seed, '+.2f')} points, "
              f"maximum {np.max(gains_all):+.2f}, minimum {np.min(gains_all):+.2f}; per seed "
              f"{', '.join(f'{g:+.2f}' for g in per_seed)}")
        below = [[p["top1"] < u["top1"] for p, u in zip(r["pss"], r["usnet"])] for r in runs]
        print(f"below US-Nets (the goal: never): {sum(map(any, below))} of {len(runs)} seeds at some budget, "
              f"{sum(map(sum, below))} of {sum(map(len, below))} seed-budget pairs")
        joint = [r for r in runs if "before_joint" in r]
        if joint:
            before = [np.mean([r["before_joint"][i]["top1"] for r in joint]) for i in range(len(BUDGETS))]
            after = [np.mean([r["pss"][i]["top1"] for r in joint]) for i in range(len(BUDGETS))]
            print("kept sub-nets' test top-1 before → after joint training: "
                  + ", ".join(f"{b:.2f} → {a:.2f}" for b, a in zip(before, after)))
            split = {k: np.mean([_seconds(r["search"]["seconds"], k) for r in joint])
                     for k in ("rank", "candidates", "finetunes", "final")}
            before = np.mean([r["supernet_seconds"] for r in joint])
            print(f"time: training before the search {before:.0f} s; "
                  f"search {', '.join(f'{k} {v:.0f} s' for k, v in split.items())}; "
                  f"{np.mean([r['search']['candidates'] for r in joint]):.0f} candidates measured; ranking and "
                  f"candidates {(split['rank'] + split['candidates']) / before:.2f}× the training before them")
        print(f"search: fine-tunes {[r['search']['finetunes'] for r in runs]}, "
              f"search seconds {[r['search']['seconds']['total'] for r in runs]}, "
              f"pss wall {[r['pss_seconds'] for r in runs]} s, usnet wall {[r['usnet_seconds'] for r in runs]} s "
              "(None: not recorded by older reused runs)")
        if "single" in first:
            print("\n| width | MFLOPs | usnet top-1 (one supernet) | individually trained top-1 |")
            print("|---|---|---|---|")
            for u, s in zip(first["usnet_widths"], first["single"]):
                print(f"| {u['name']} | {u['mflops']:.3f} | {u['top1']:.2f} | {s['top1']:.2f} |")
            alone = [max((s["top1"] for s in first["single"] if s["mflops"] <= p["mflops"] * 1.001), default=None)
                     for p in first["pss"]]  # same seed, so the same data split
            print("\nheadroom (first seed): pss − the best width trained alone within each budget's MFLOPs: "
                  + ", ".join("none fits" if a is None else f"{p['top1'] - a:+.2f} ({a:.2f})"
                              for p, a in zip(first["pss"], alone)))
            plot_accuracy({"US-Nets (one supernet)": first["usnet_widths"], "individually trained": first["single"]},
                          out / f"usnet_vs_single_{data}.png", f"{data}: US-Nets vs individually trained")
        plot_chain(first, out / f"pss_chain_{data}.png", data)


def _mean_se(values: list[float], spec: str = ".2f") -> str:
    """``mean ± standard error`` (the mean alone for one value)."""
    mean = format(float(np.mean(values)), spec)
    return f"{mean} ± {np.std(values, ddof=1) / np.sqrt(len(values)):.2f}" if len(values) > 1 else mean


def _seconds(seconds: dict, phase: str) -> float:
    """A phase's seconds; results from before the one-pass measurement split candidates in two."""
    if phase == "candidates" and phase not in seconds:
        return seconds["bn_recalibration"] + seconds["evaluation"]
    return seconds[phase]


def plot_chain(entry: dict, path: Path, data: str) -> None:
    """The search chain (held-out top-1 vs MFLOPs), the re-selected sub-nets and the US-Nets curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    chain = entry["chain"]
    ax.plot([c["cost"] for c in chain], [c["val_top1"] for c in chain], ".-", color="0.6",
            label="search chain (held-out top-1)")
    ax.plot([p["mflops"] for p in entry["pss"]], [p["top1"] for p in entry["pss"]], "o", color="C3", ms=8,
            label="PSS re-selected, after joint training (test top-1)")
    ax.plot([u["mflops"] for u in entry["usnet"]], [u["top1"] for u in entry["usnet"]], "s--", color="C0",
            label="US-Nets at the same budgets (test top-1)")
    ax.set_xlabel("MFLOPs")
    ax.set_ylabel("top-1 (%)")
    ax.set_title(f"{data}: progressive sub-net search")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
