"""The progressive sub-net search (PSS) end to end, on a trained run, and ``train --method pss``.

After "A Progressive Sub-Network Searching Framework for Dynamic Inference" (Yang, He, Cao, Fan). The paper's
code is not public; the open details are decided here and documented in each step's module:
1. trainable noise ranking and channel reordering (``ranking``),
2. search in blocks of ``granularity`` channels per channel group,
3. progressive non-uniform shrinking scored by held-out loss per unit of cost (``progressive``),
4. brief fine-tuning over the chain so far when held-out top-1 falls by more than ``threshold`` points,
5. re-selection of one Pareto-optimal sub-net per budget (``reselect``), then joint training of the kept
   sub-nets (sandwich rule over the kept set, or over the chain between them, + in-place distillation) and BN
   recalibration per kept sub-net.
It starts from a US-Nets supernet, or (``start="full"``) from the full network trained alone, which the
fine-tunes of step 4 turn into a dynamic network as the chain grows. run.json records where the time went
(ranking, measuring candidates, fine-tunes, joint training) and each kept sub-net's test top-1 before the
joint training.
The held-out split is carved from the training split (never the test split); the final training uses the
whole training split.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from edgeslim.console import console
from edgeslim.errors import EdgeslimError
from edgeslim.host.data import load_dataset
from edgeslim.host.evaluate import calibration_batches, ship
from edgeslim.host.runs import load_run, read_sidecar, replace_run
from edgeslim.host.search.costs import load_latency_table, mflops_cost
from edgeslim.host.search.options import SearchOptions
from edgeslim.host.search.progressive import HeldOut, Shortlist, progressive_search
from edgeslim.host.search.ranking import rank_blocks
from edgeslim.host.search.reselect import holdout_margin, read_by_reselect, reselect
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.host.train.loop import train_supernet
from edgeslim.host.train.methods import Step
from edgeslim.host.train.options import TrainOptions
from edgeslim.host.train.steps import Batches, fit
from edgeslim.subnets import SubnetConfig


def _name(budget: float, unit: str) -> str:
    return {"fraction": f"p{round(budget * 100):03d}", "mflops": f"p{budget:g}M", "ms": f"p{budget:g}ms"}[unit]


def search_device(name: str) -> torch.device:
    """``auto``: the GPU when there is one. The search and the joint training run there; the run is saved from
    the CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise EdgeslimError("--device cuda: no CUDA GPU is visible to torch here; use --device cpu or auto")
    return torch.device("cuda" if name == "cuda" or (name == "auto" and torch.cuda.is_available()) else "cpu")


def search(run_dir: str | Path, opts: SearchOptions, total_epochs: int | None = None) -> dict:
    """Search, re-select and jointly train sub-nets of a trained run; rewrite the run with them. Returns run.json.
    ``total_epochs``: the epochs of a ``train --method pss`` run (the joint training's default share of them)."""
    started = time.time()
    budgets = opts.sorted_budgets
    final_epochs = opts.joint_epochs(total_epochs)
    run = load_run(run_dir)
    info, supernet = run.info, run.supernet
    supernet.to(search_device(opts.device))
    if info["method"] == "single" and info["options"]["width"] != 1.0:
        raise EdgeslimError(f"{run.path} holds width {info['options']['width']:g} trained alone; search needs a "
                            "slimmable supernet (--method usnet) or the full network (--method single --width 1)")
    if "gate" in info:
        raise EdgeslimError(f"{run.path} is a gated (dsnet) run: its gate routes among uniform widths; search a "
                            "--method usnet run instead")
    seed = info["options"]["seed"]
    dataset = load_dataset(info["data"], seed)
    fraction = info["options"].get("val_fraction") or opts.holdout_fraction
    x_train, y_train, x_val, y_val = dataset.holdout(fraction, seed)
    if not info["options"].get("val_fraction"):
        console.print(f"note: {run.path} was trained on its whole training split; the search's held-out "
                      f"split ({fraction:.0%}) was seen in training")
    batch_size, lr, wd = info["options"]["batch_size"], info["options"]["lr"], info["options"]["weight_decay"]
    search_batches = Batches(dataset, batch_size, info["options"]["augment"], x_train, y_train)
    cost = load_latency_table(opts.latency_table, supernet) if opts.latency_table else mflops_cost(supernet)
    full = cost(supernet.space.largest())
    absolute = [b * full if opts.unit == "fraction" else b for b in budgets]
    unit = "ms" if opts.latency_table else "mflops"
    smallest = SubnetConfig("smallest", {g.name: g.choices()[0] for g in supernet.space.groups})
    if min(absolute) < cost(smallest):
        raise EdgeslimError(f"budget {min(budgets):g} is below the smallest sub-net of this model "
                            f"({cost(smallest):.4g} {unit}); raise it or lower --granularity and retrain")

    # 1. noise ranking, reorder channels most-important-first
    rank_started = time.time()
    device = next(supernet.parameters()).device
    supernet.recalibrate_bn(supernet.space.largest(), calibration_batches(dataset, 1024, device=device))
    if opts.rank_steps > 0:  # 0 skips the ranking (an ablation: keep US-Nets' own channel order)
        supernet.permute_channels(rank_blocks(supernet, search_batches, opts.rank_steps, seed=seed,
                                              show_progress=opts.show_progress))
    rank_seconds = time.time() - rank_started

    # 2-4. progressive shrinking with fine-tuning threshold
    held_out = HeldOut(supernet, dataset.normalize(x_val), y_val)
    teacher = opts.teacher or info["options"].get("teacher") or "live"
    ema_decay = info["options"].get("ema_decay", TrainOptions.ema_decay) if teacher == "ema" else None
    started_from = "full" if info["method"] == "single" else "usnet"
    finetune = FineTune(supernet, search_batches, opts.finetune_epochs_from(started_from), lr * 0.1, wd, seed,
                        opts.show_progress, ema_decay)
    chain_started = time.time()
    chain = progressive_search(supernet, held_out, cost, min(absolute), opts.threshold, finetune,
                               opts.show_progress, Shortlist(every=opts.full_race_every))
    remeasured = sorted(read_by_reselect(chain.entries, absolute))  # fine-tunes changed the weights: compare
    for entry in (chain.entries[i] for i in remeasured):  # the sub-nets re-selection reads on the final weights
        entry.val_top1, entry.val_loss = held_out(entry.config)
    chain_seconds = time.time() - chain_started

    # 5. re-selection, joint training of the kept sub-nets, BN recalibration per kept sub-net
    margin = holdout_margin(chain.entries[0].val_top1, len(y_val))
    selections = reselect(chain.entries, absolute, margin=margin)
    asked = dict(zip(absolute, budgets))
    kept = [SubnetConfig(_name(asked[s.budget], opts.unit), dict(s.entry.config.channels)) for s in selections]
    before_joint = None  # the kept sub-nets measured before the joint training (reported, not used)
    final_started = time.time()
    if final_epochs > 0:
        before_joint = ship(supernet, kept, dataset, info["options"]["calib_samples"])
        by_cost = sorted(kept, key=cost)
        low, high = cost(by_cost[0]), cost(by_cost[-1])
        between = [e.config for e in chain.entries if low < e.cost < high] if opts.joint == "chain" else None
        plan = kept_sandwich(by_cost, between)
        one = opts.schedule == "one" and total_epochs  # continue the first phase's decay, else restart lower
        fit(supernet, Batches(dataset, batch_size, info["options"]["augment"]), plan,
            final_epochs, lr if one else lr * opts.final_lr_scale, wd, seed + 1_000, "joint training",
            opts.show_progress, EmaTeacher(supernet, ema_decay, by_cost[-1]) if ema_decay else None,
            span=(1 - final_epochs / total_epochs, 1.0) if one else (0.0, 1.0))
    latency = {c.name: {"latency_ms": round(cost(c), 4)} for c in kept} if unit == "ms" else None
    shipped = ship(supernet, kept, dataset, info["options"]["calib_samples"], latency)
    final_seconds = time.time() - final_started
    before_joint = before_joint or shipped  # no joint training: the shipped sub-nets are as the search left them

    info["before_search"] = info.get("before_search") or info["configs"]
    info["configs"] = shipped
    info["method"] = "pss"
    info["search"] = {
        "start": info.get("search", {}).get("start", started_from),
        "budgets": budgets, "unit": opts.unit, "cost_unit": unit, "full_cost": round(full, 5),
        "teacher": "ema" if ema_decay else "live", "schedule": opts.schedule if total_epochs else "split",
        "threshold": opts.threshold, "finetunes": finetune.count,
        "finetune_epochs": finetune.epochs, "final_epochs": final_epochs, "joint": opts.joint,
        "rank_steps": opts.rank_steps, "full_race_every": opts.full_race_every,
        "val_fraction": fraction,
        "chain": [e.to_json() for e in chain.entries], "finetune_positions": chain.finetunes,
        "reselect_margin": round(margin, 3),
        "selected": [{"name": c.name, "budget": s.budget, "position": s.position} for c, s in zip(kept, selections)],
        "measured_on_final_weights": remeasured,  # the other chain entries keep their top-1 from the search
        "before_joint": [{"name": c["name"], "top1": c["meta"]["top1"]} for c in before_joint],
        "candidates": held_out.calls,
        "seconds": {"rank": round(rank_seconds, 1), "chain": round(chain_seconds, 1),
                    "candidates": round(held_out.seconds, 1), "finetunes": round(finetune.seconds, 1),
                    "final": round(final_seconds, 1), "total": round(time.time() - started, 1)},
    }
    supernet.cpu()
    replace_run(run.path, info, supernet, kept)
    return info


class FineTune:
    """Brief fine-tuning of the supernet over the chain found so far (called by the progressive search):
    the full network learns from the labels, the newest sub-net and two random chain members by distillation."""

    def __init__(self, supernet, batches: Batches, epochs: float, lr: float, weight_decay: float, seed: int,
                 show_progress: bool, ema_decay: float | None = None):
        self.supernet, self.batches, self.epochs = supernet, batches, epochs
        self.lr, self.weight_decay, self.seed, self.show_progress = lr, weight_decay, seed, show_progress
        self.ema_decay = ema_decay
        self.count, self.seconds = 0, 0.0

    def __call__(self, chain: list[SubnetConfig]) -> None:
        started = time.time()
        self.count += 1

        def plan(rng: np.random.Generator) -> list[Step]:
            picks = rng.choice(len(chain), size=min(2, len(chain)), replace=False)
            return [Step(chain[0], False), Step(chain[-1], True), *(Step(chain[int(i)], True) for i in picks)]

        teacher = EmaTeacher(self.supernet, self.ema_decay, chain[0]) if self.ema_decay else None
        fit(self.supernet, self.batches, plan, self.epochs, self.lr, self.weight_decay, self.seed + self.count,
            f"fine-tune {self.count}", self.show_progress, teacher)
        self.seconds += time.time() - started


def kept_sandwich(by_cost: list[SubnetConfig], between: list[SubnetConfig] | None = None):
    """Sandwich rule over the kept set (cheapest first): largest with labels, smallest and two others distilled,
    picked from the kept ones between them or, when given, from ``between`` (chain members between them)."""
    largest, smallest = by_cost[-1], by_cost[:-1][:1]
    middle = by_cost[1:-1] if between is None else between

    def plan(rng: np.random.Generator) -> list[Step]:
        picks = rng.choice(len(middle), size=min(2, len(middle)), replace=False) if middle else []
        return [Step(largest, False), *(Step(c, True) for c in smallest), *(Step(middle[int(i)], True) for i in picks)]

    return plan


def train_pss(opts: TrainOptions) -> tuple[Path, dict]:
    """``train --method pss``: train the full network alone (``start="full"``) or a US-Nets supernet
    (``start="usnet"``) on all but a held-out split, then search and jointly train the kept sub-nets.
    ``opts.epochs`` is the total: the joint training's epochs are part of it (fine-tunes during the search come
    on top and are reported). Killed during the search, it continues with ``--resume`` from the trained network."""
    search_opts = replace(opts.search_options, teacher=opts.distill)
    first = {"usnet": dict(method="usnet"),  # the full network trains alone: no teacher until the search
             "full": dict(method="single", width=1.0, teacher=None)}[search_opts.start]
    lr_until = opts.supernet_epochs / opts.epochs if search_opts.schedule == "one" else 1.0
    supernet_opts = replace(opts, **first, epochs=opts.supernet_epochs, val_fraction=opts.holdout,
                            lr_until=lr_until)
    final = opts.run_dir
    if opts.resume and (final / "run.json").is_file() and not final.with_name(final.name + ".partial").exists():
        if read_sidecar(final / "run.json").get("method") != first["method"]:
            raise EdgeslimError(f"--resume: {final} is already complete; start a new run without --resume")
        console.print(f"resuming: {final} finished its supernet training; searching")  # killed during the search
        return final, search(final, search_opts, opts.epochs)
    run_dir, info = train_supernet(supernet_opts)
    if info.get("status") != "complete":  # a helper process of a multi-process run: the main one searches
        return run_dir, info
    return run_dir, search(run_dir, search_opts, opts.epochs)
