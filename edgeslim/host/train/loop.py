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
from edgeslim.host.data import Dataset, load_dataset
from edgeslim.host.evaluate import ship
from edgeslim.host.gate.training import train_gates
from edgeslim.host.models import GATE_POINTS, build_supernet
from edgeslim.host.runs import (
    RUN_SCHEMA,
    finalize,
    load_tensors,
    load_weights,
    read_sidecar,
    save_run,
    save_tensors_atomic,
    weight_tensors,
    write_atomic,
)
from edgeslim.host.train.bootstrap import EmaTeacher
from edgeslim.host.train.distributed import World
from edgeslim.host.train.methods import METHODS
from edgeslim.host.train.options import TrainOptions
from edgeslim.host.train.steps import Batches, make_optimizer, set_cosine_lr, train_step
from edgeslim.subnets import SubnetConfig, load_configs


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
    final = Path(opts.out)
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
    partial.mkdir(parents=True)
    return final, partial, 0


def train(opts: TrainOptions) -> tuple[Path, dict]:
    """Train a supernet as ``opts`` says; return the run directory and its run.json contents."""
    opts.check()
    world = World.from_env(opts.device)
    try:
        return _train(opts, world)
    finally:
        world.close()


def _train(opts: TrainOptions, world: World) -> tuple[Path, dict]:
    started = time.time()
    dataset: Dataset = load_dataset(opts.data, opts.seed)
    torch.manual_seed(opts.seed)
    supernet = build_supernet(opts.model, dataset.input_shape, dataset.num_classes, opts.granularity)
    if opts.method == "dsnet":  # the part before the gate is shared: its channel groups stay full
        supernet.attach_gate(opts.gate_before or GATE_POINTS[opts.model], len(opts.widths.split(",")))
    space = supernet.space
    shipped = [space.uniform(opts.width)] if opts.method == "single" else space.parse_widths(opts.widths)
    if opts.configs:
        shipped += load_configs(opts.configs, space)
    if len({c.name for c in shipped}) < len(shipped):
        raise EdgeslimError(f"shipped configurations need distinct names: {[c.name for c in shipped]}")
    final, partial, start_epoch = _prepare_out(opts, world)

    supernet.to(world.device)
    model = world.wrap(supernet)
    optimizer = make_optimizer(supernet, opts.lr, opts.weight_decay)
    teacher = EmaTeacher(supernet, opts.ema_decay, space.largest()) if opts.teacher == "ema" else None
    info = {"schema": RUN_SCHEMA, "edgeslim": __version__, "status": "training", "model": opts.model,
            "data": opts.data, "dataset": dataset.name, "input_shape": list(dataset.input_shape),
            "num_classes": dataset.num_classes, "classes": dataset.classes, "granularity": opts.granularity,
            "preprocessing": dataset.preprocessing(), "method": opts.method, "options": opts.same_job(),
            "space": space.to_json(), "epoch": start_epoch, "history": []}
    if opts.resume:
        tensors = load_tensors(partial / "checkpoint.safetensors")
        info = read_sidecar(partial / "run.json")
        load_weights(supernet, tensors, partial / "checkpoint.safetensors")
        _load_optimizer(optimizer, tensors, info["optimizer"]["param_groups"])
        if teacher is not None:
            teacher.load(tensors)
        if world.is_main:
            console.print(f"resuming {partial} at epoch {start_epoch}/{opts.epochs}")

    train_part = dataset.holdout(opts.val_fraction, opts.seed)[:2] if opts.val_fraction else (None, None)
    batches = Batches(dataset, opts.batch_size, opts.augment, *train_part)
    if teacher is not None:
        teacher.updates = start_epoch * len(batches)  # where the decay warm-up stood when the run was killed
    total_steps = len(batches) * opts.epochs
    if world.is_main:
        console.print(f"training {opts.model} ({opts.method}) on {dataset.summary()}; "
                      f"{len(space.groups)} channel groups, {opts.epochs} epochs × {len(batches)} steps")
    plan = METHODS[opts.method]
    supernet.train()
    with progress(opts.show_progress and world.is_main) as bar:
        task = bar.add_task("train", total=total_steps, completed=start_epoch * len(batches), status="")
        for epoch in range(start_epoch, opts.epochs):
            rng = np.random.default_rng([opts.seed, epoch])  # same on every process: same batches and sub-nets
            generator = torch.Generator().manual_seed(opts.seed * 100_003 + epoch * 1_009 + world.rank)
            losses = []
            for b, (x, y) in enumerate(batches.epoch(rng, generator, world.rank, world.size, world.device)):
                set_cosine_lr(optimizer, opts.lr, epoch * len(batches) + b, total_steps)
                steps = plan(space, rng, opts.num_random, opts.min_width, opts.width)
                losses.append(train_step(model, supernet, steps, x, y, optimizer, teacher))
                if teacher is not None:
                    teacher.update(supernet)
                bar.update(task, advance=1, status=f"epoch {epoch + 1} loss {losses[-1]:.3f}")
            info["history"].append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 5)})
            info["epoch"] = epoch + 1
            if world.is_main:
                tensors, optim_state = _optimizer_tensors(optimizer)
                tensors.update(weight_tensors(supernet))
                tensors.update(teacher.state() if teacher is not None else {})
                save_tensors_atomic(partial / "checkpoint.safetensors", tensors, {"epoch": str(epoch + 1)})
                info["optimizer"] = optim_state
                write_atomic(partial / "run.json", json.dumps(info, indent=2))

    info["replica_max_abs_diff"] = world.replica_max_abs_diff(supernet)
    info["world_size"] = world.size
    if not world.is_main:
        return final, info
    return _finish(supernet, dataset, shipped, info, opts, partial, final, started)


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

