"""The pieces every training phase shares: optimizer, cosine schedule, batches, one sandwich step, a short fit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from edgeslim.console import progress
from edgeslim.host.data import Dataset
from edgeslim.host.train.methods import Step


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's global RNG (weight init, dropout) for one library call and give the caller's state back."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def make_optimizer(supernet: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.SGD:
    """SGD with Nesterov momentum; weight decay on conv/linear weights only (not BN or biases)."""
    decay = [p for p in supernet.parameters() if p.ndim > 1]
    no_decay = [p for p in supernet.parameters() if p.ndim <= 1]
    return torch.optim.SGD([{"params": decay, "weight_decay": weight_decay},
                            {"params": no_decay, "weight_decay": 0.0}], lr=lr, momentum=0.9, nesterov=True)


def set_cosine_lr(optimizer: torch.optim.Optimizer, base_lr: float, step: int, total: int,
                  span: tuple[float, float] = (0.0, 1.0), warmup_steps: int = 0) -> None:
    """Step ``step`` of ``total`` of the part ``span`` (fractions of it) of one cosine decay from ``base_lr``,
    scaled by a linear warm-up over the first ``warmup_steps`` (Goyal et al. 2017)."""
    start, stop = span
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    for group in optimizer.param_groups:
        group["lr"] = warm * base_lr * 0.5 * (1 + math.cos(math.pi * (start + (stop - start) * step / total)))


class Batches:
    """Shuffled, augmented, normalized mini-batches of a training split; seeded per epoch."""

    def __init__(self, dataset: Dataset, batch_size: int, augment: bool, x: np.ndarray | None = None,
                 y: np.ndarray | None = None):
        self.x = torch.from_numpy(dataset.x_train if x is None else x)
        self.y = torch.from_numpy(dataset.y_train if y is None else y)
        self.mean = torch.from_numpy(dataset.mean)[:, None, None]
        self.std = torch.from_numpy(dataset.std)[:, None, None]
        self.batch_size = batch_size
        self.augment = augment

    def __len__(self) -> int:
        """Full batches only: the incomplete last one is dropped (each epoch's order differs, so every image is
        seen), since a batch of a few images makes noisy batch-norm statistics and steps."""
        return max(1, len(self.x) // self.batch_size)

    def epoch(self, rng: np.random.Generator, generator: torch.Generator, rank: int = 0, world_size: int = 1,
              device: torch.device | str = "cpu") -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """One pass in ``rng``'s order; process ``rank`` of ``world_size`` gets its share of every batch."""
        order = torch.from_numpy(rng.permutation(len(self.x)))
        for b in range(len(self)):
            index = order[b * self.batch_size:(b + 1) * self.batch_size][rank::world_size]
            x = self.x[index]
            if self.augment:
                x = shift(x, generator)
            yield ((x - self.mean) / self.std).to(device), self.y[index].to(device)


def shift(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to 1/8 of the image side (zero padding), one offset per image."""
    pad = max(1, x.shape[-1] // 8)
    padded = F.pad(x, (pad, pad, pad, pad))
    offsets = torch.randint(0, 2 * pad + 1, (len(x), 2), generator=generator)
    h, w = x.shape[-2:]
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def train_step(model, supernet, steps: list[Step], x: torch.Tensor, y: torch.Tensor, optimizer,
               teacher_fn: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
    """One optimizer step over the plan's sub-nets; distilled ones learn from the first labelled one's soft
    predictions (in-place distillation) or from ``teacher_fn(x)`` (in-place bootstrapping). Gradients are
    accumulated and, under DDP, synced once, on the last sub-net. Returns the first loss."""
    optimizer.zero_grad(set_to_none=True)
    teacher = teacher_fn(x) if teacher_fn is not None else None
    first_loss = 0.0
    for i, step in enumerate(steps):
        supernet.set_config(step.config)
        last = i == len(steps) - 1
        with (model.no_sync() if hasattr(model, "no_sync") and not last else nullcontext()):
            logits = model(x)
            if step.distill and teacher is not None:
                loss = F.kl_div(F.log_softmax(logits, 1), teacher, reduction="batchmean")
            else:
                loss = F.cross_entropy(logits, y)
                if teacher_fn is None:
                    teacher = F.softmax(logits.detach(), 1)
            loss.backward()
        if i == 0:
            first_loss = loss.item()
    optimizer.step()
    return first_loss


Seeds = Callable[[int], tuple[np.random.Generator, torch.Generator]]  # epoch -> (order/sub-net rng, shift rng)
Plan = Callable[[np.random.Generator], list[Step]]


def run_epochs(model, supernet, batches: Batches, plan: Plan, optimizer, lr: float, epochs: range, seeds: Seeds,
               bar, task, teacher=None, rank: int = 0, world_size: int = 1,
               on_epoch: Callable[[int, float], None] | None = None, total_steps: int | None = None,
               span: tuple[float, float] = (0.0, 1.0), warmup_steps: int = 0) -> list[float]:
    """The one epoch loop of every training phase: cosine schedule over all of ``epochs``' steps (counted from
    0, so a resumed loop continues the schedule), or over the first ``total_steps`` of them (a fraction of an
    epoch), one sandwich step per batch, the EMA teacher updated after each. ``span``: the part of one cosine
    decay these steps cover (another phase of the run covers the rest); ``warmup_steps``: the linear warm-up of
    a phase that starts from fresh weights. ``on_epoch(epoch, mean loss)`` runs after each epoch (checkpoints);
    returns the mean losses."""
    device = next(supernet.parameters()).device
    total = max(1, total_steps if total_steps is not None else epochs.stop * len(batches))
    history = []
    for epoch in epochs:
        rng, generator = seeds(epoch)
        losses = []
        for b, (x, y) in enumerate(batches.epoch(rng, generator, rank, world_size, device)):
            if epoch * len(batches) + b >= total:
                break
            set_cosine_lr(optimizer, lr, epoch * len(batches) + b, total, span, warmup_steps)
            losses.append(train_step(model, supernet, plan(rng), x, y, optimizer, teacher))
            if teacher is not None:
                teacher.update(supernet)
            bar.update(task, advance=1, status=f"epoch {epoch + 1} loss {losses[-1]:.3f}")
        history.append(float(np.mean(losses)))
        if on_epoch is not None:
            on_epoch(epoch, history[-1])
    return history


def fit(supernet, batches: Batches, plan: Plan, epochs: float, lr: float, weight_decay: float, seed: int,
        label: str, show_progress: bool = True, teacher=None, span: tuple[float, float] = (0.0, 1.0)) -> float:
    """A short single-process training phase (fine-tuning, final training) of ``epochs`` (fractions allowed: that
    share of an epoch's steps), reproducible from ``seed``; returns the last epoch's loss. ``teacher``: an
    ``EmaTeacher`` the distilled sub-nets learn from (updated every step), else the live largest. ``span``: the
    part of one cosine decay from ``lr`` it covers."""
    steps = round(epochs * len(batches))
    optimizer = make_optimizer(supernet, lr, weight_decay)

    def seeds(epoch: int) -> tuple[np.random.Generator, torch.Generator]:
        return np.random.default_rng([seed, 7_919, epoch]), torch.Generator().manual_seed(seed * 7_919 + epoch)

    supernet.train()
    with progress(show_progress) as bar, seeded(seed):  # dropout draws from torch's global RNG
        task = bar.add_task(label, total=max(1, steps), status="")
        losses = run_epochs(supernet, supernet, batches, plan, optimizer, lr, range(math.ceil(steps / len(batches))),
                            seeds, bar, task, teacher, total_steps=steps, span=span)
    supernet.eval()
    return losses[-1] if losses else 0.0
