"""The training loop: data, optimizer, schedule, checkpoints and resume, DDP, BN recalibration, final metrics."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from edgeslim import __version__
from edgeslim.console import console, progress
from edgeslim.errors import EdgeslimError
from edgeslim.files import make_dir, write_atomic
from edgeslim.formats import RUN
from edgeslim.host.data import Dataset, load_dataset
from edgeslim.host.evaluate import ship
from edgeslim.host.gate.training import train_gates
from edgeslim.host.models import build_supernet, file_sha256, gate_point, is_file_model
from edgeslim.host.models.pretrained import load_pretrained
from edgeslim.host.search.options import SearchOptions
from edgeslim.host.search.ranking import rank_blocks
from edgeslim.host.runs import (
    finalize,
    load_tensors,
    load_weights,
    read_sidecar,
    save_run,
    save_tensors_atomic,
    weight_tensors,
)
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.host.train.distributed import World
from edgeslim.host.train.methods import METHODS
from edgeslim.host.train.options import TrainOptions
from edgeslim.host.train.steps import Batches, make_optimizer, run_epochs, seeded
from edgeslim.subnets import SubnetConfig, load_configs


RANK_STEPS = SearchOptions.rank_steps  # the same ranking as the search's first step


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors = {f"optim.{idx}.{key}": value for idx, entry in state["state"].items()
               for key, value in entry.items() if torch.is_tensor(value)}
    return tensors, {"param_groups": state["param_groups"]}


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list) -> None:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _prepare_out(opts: TrainOptions, world: World) -> tuple[Path, Path, int]:
    """The final and the in-progress run directory, and the epoch to start from."""
    final = opts.run_dir
    partial = final.with_name(final.name + ".partial")
    if opts.resume:
        if not (partial / "checkpoint.safetensors").is_file():
            done = " (it is already complete)" if (final / "run.json").is_file() else ""
            raise EdgeslimError(f"--resume: no checkpoint in {partial}{done}; start a new run without --resume")
        info = read_sidecar(partial / "run.json")
        differing = {k: (v, info["options"].get(k)) for k, v in opts.same_job().items()
                     if info["options"].get(k) != v}
        if differing:
            listed = ", ".join(f"{k}={old!r} (now {new!r})" for k, (new, old) in differing.items())
            raise EdgeslimError(f"--resume: {partial} was started with {listed}; resume with the same options")
        return final, partial, int(info["epoch"])
    if not world.is_main:  # the main process alone checks and prepares the directory
        return final, partial, 0
    if final.exists() and not opts.force:
        raise EdgeslimError(f"{final} already exists; choose another --out or pass --force to replace it")
    if partial.exists() and not opts.force:
        raise EdgeslimError(f"{partial} holds an unfinished run; continue it with --resume or pass --force")
    if partial.exists():
        shutil.rmtree(partial)
    make_dir(partial, "--out")
    return final, partial, 0


def train_supernet(opts: TrainOptions) -> tuple[Path, dict]:
    """Train a supernet as ``opts`` says (any method but pss, which adds the search: see
    :func:`edgeslim.host.search.pipeline.train_pss`); return the run directory and its run.json contents."""
    world = World.from_env(opts.device)
    try:
        with seeded(opts.seed):
            return _train(opts, world)
    finally:
        world.close()


def _train(opts: TrainOptions, world: World) -> tuple[Path, dict]:
    started = time.time()
    dataset: Dataset = load_dataset(opts.data, opts.seed)
    supernet = build_supernet(opts.model_name if is_file_model(opts.model) else opts.model, dataset.input_shape,
                              dataset.num_classes, opts.granularity)
    if opts.method == "dsnet":  # the part before the gate is shared: its channel groups stay full
        supernet.attach_gate(opts.gate_before or gate_point(opts.model_name), len(opts.widths))
    space = supernet.space
    init = None  # checked before anything is written; a resumed run's checkpoint holds the loaded weights
    if opts.init is not None and not opts.resume:
        init = {"file": str(opts.init), "sha256": load_pretrained(supernet, opts.init), "reordered": opts.init_reorder}
    shipped = [space.uniform(opts.width)] if opts.method == "single" else space.parse_widths(opts.width_list())
    if opts.configs:
        shipped += load_configs(opts.configs, space)
    if len({c.name for c in shipped}) < len(shipped):
        raise EdgeslimError(f"shipped configurations need distinct names: {[c.name for c in shipped]}")
    final, partial, start_epoch = _prepare_out(opts, world)

    supernet.to(world.device)
    model = world.wrap(supernet)
    optimizer = make_optimizer(supernet, opts.lr, opts.weight_decay)
    teacher = EmaTeacher(supernet, opts.ema_decay, space.largest()) if opts.distill == "ema" else None
    info = {"schema": RUN, "edgeslim": __version__, "status": "training", "model": opts.model_name,
            "data": opts.data, "dataset": dataset.name, "input_shape": list(dataset.input_shape),
            "num_classes": dataset.num_classes, "classes": dataset.classes, "granularity": opts.granularity,
            "preprocessing": dataset.preprocessing(), "method": opts.method, "options": opts.same_job(),
            "space": space.to_json(), "epoch": start_epoch, "history": []}
    if is_file_model(opts.model):
        info["model_sha256"] = file_sha256(opts.model_name)
    if opts.resume:
        tensors = load_tensors(partial / "checkpoint.safetensors")
        info = read_sidecar(partial / "run.json")
        load_weights(supernet, tensors, partial / "checkpoint.safetensors")
        _load_optimizer(optimizer, tensors, info["optimizer"]["param_groups"])
        if teacher is not None:
            teacher.load(tensors)
        if world.is_main:
            console.print(f"resuming {partial} at epoch {start_epoch}/{opts.epochs}")

    train_part = dataset.holdout(opts.holdout, opts.seed)[:2] if opts.holdout else (None, None)
    batches = Batches(dataset, opts.batch_size, opts.augment, *train_part)
    if init is not None:
        _reorder(supernet, opts, batches, world.is_main)
        info["init"] = init
    if teacher is not None:
        teacher.updates = start_epoch * len(batches)  # where the decay warm-up stood when the run was killed
    if world.is_main:
        console.print(f"training {opts.model_name} ({opts.method}) on {dataset.summary()}; "
                      f"{len(space.groups)} channel groups, {opts.epochs} epochs × {len(batches)} steps")
    method = METHODS[opts.method]

    def plan(rng: np.random.Generator):
        return method(space, rng, opts.num_random, opts.min_width, opts.width)

    def seeds(epoch: int) -> tuple[np.random.Generator, torch.Generator]:
        # the rng is the same on every process (same batches and sub-nets); the shifts differ per process
        return (np.random.default_rng([opts.seed, epoch]),
                torch.Generator().manual_seed(opts.seed * 100_003 + epoch * 1_009 + world.rank))

    def checkpoint(epoch: int, loss: float) -> None:
        info["history"].append({"epoch": epoch + 1, "loss": round(loss, 5)})
        info["epoch"] = epoch + 1
        if world.is_main:
            tensors, optim_state = _optimizer_tensors(optimizer)
            tensors.update(weight_tensors(supernet))
            tensors.update(teacher.state() if teacher is not None else {})
            save_tensors_atomic(partial / "checkpoint.safetensors", tensors, {"epoch": str(epoch + 1)})
            info["optimizer"] = optim_state
            write_atomic(partial / "run.json", json.dumps(info, indent=2))

    supernet.train()
    with progress(opts.show_progress and world.is_main) as bar:
        task = bar.add_task("train", total=len(batches) * opts.epochs, completed=start_epoch * len(batches),
                            status="")
        run_epochs(model, supernet, batches, plan, optimizer, opts.lr, range(start_epoch, opts.epochs), seeds, bar,
                   task, teacher, world.rank, world.size, checkpoint, span=(0.0, opts.lr_until),
                   warmup_steps=round(opts.warmup_epochs * len(batches)))

    info["replica_max_abs_diff"] = world.replica_max_abs_diff(supernet)
    info["world_size"] = world.size
    if not world.is_main:
        return final, info
    return _finish(supernet, dataset, shipped, info, opts, partial, final, started)


def _reorder(supernet, opts: TrainOptions, batches: Batches, show: bool) -> None:
    """With ``opts.init_reorder``, reorder every channel group of the loaded network most-important-first (the
    noise ranking of the search), so that narrow widths start from its best channels."""
    if not opts.init_reorder:
        return
    if show:
        console.print(f"ranking the channels of {opts.init} (noise ranking, {RANK_STEPS} steps) to reorder them")
    supernet.permute_channels(rank_blocks(supernet, batches, RANK_STEPS, seed=opts.seed,
                                          show_progress=opts.show_progress and show))
    supernet.train()


def _finish(supernet, dataset, shipped: list[SubnetConfig], info: dict, opts: TrainOptions, partial: Path,
            final: Path, started: float) -> tuple[Path, dict]:
    """Recalibrate BN per shipped configuration, measure it, write the run and publish it."""
    info["configs"] = ship(supernet, shipped, dataset, opts.calib_samples)
    if supernet.gate is not None:
        info["gate"] = train_gates(supernet, shipped, dataset, opts)
    info["status"] = "complete"
    info["train_seconds"] = round(time.time() - started, 1)
    info.pop("optimizer", None)
    supernet.cpu()
    save_run(partial, info, supernet, shipped)
    finalize(partial, final)
    return final, info

