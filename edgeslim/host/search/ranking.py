"""Trainable noise ranking of channel blocks (step 1 of the progressive sub-net search).

Every block of ``granularity`` channels of every channel group gets a trainable noise scale sigma. The output
of the group's batch norms (its producers' outputs where no batch norm follows) is multiplied by
``1 + sigma * N(0, 1)``; with the weights frozen, the scales are trained to minimize the task loss minus
``noise_reward * mean(log sigma)``. A block that tolerates a large sigma matters little, so blocks are ranked by
ascending sigma, and every group's channels are reordered most-important-first (``Supernet.permute_channels``),
so nested prefixes keep the best channels.
"""

from __future__ import annotations

import numpy as np
import functools

import torch
import torch.nn.functional as F

from edgeslim.console import progress
from edgeslim.host.nn import Supernet
from edgeslim.host.nn.ops import SlimBatchNorm2d
from edgeslim.host.train.steps import Batches, seeded


def _noise_sites(supernet: Supernet) -> dict[str, list[tuple[torch.nn.Module, int]]]:
    """Per group, the layers whose outputs carry its channels, with the offset of its segment there: its batch
    norms, else its producers."""
    modules = dict(supernet.net.named_modules())
    sites: dict[str, dict[bool, list]] = {g.name: {True: [], False: []} for g in supernet.space.groups}
    for name, layer in supernet.channels.items():
        for segment in layer.rows:
            if segment.group is not None:
                is_bn = isinstance(modules[name], SlimBatchNorm2d)
                sites[segment.group][is_bn].append((modules[name], segment.offset))
    return {group: found[True] or found[False] for group, found in sites.items()}


def rank_blocks(supernet: Supernet, batches: Batches, steps: int = 50, noise_reward: float = 1.0,
                lr: float = 0.05, seed: int = 0, show_progress: bool = True) -> dict[str, torch.Tensor]:
    """Train the noise scales at full width; return each group's channel order, most important first."""
    with seeded(seed):  # the noise samples
        return _rank_blocks(supernet, batches, steps, noise_reward, lr, seed, show_progress)


def _rank_blocks(supernet: Supernet, batches: Batches, steps: int, noise_reward: float, lr: float, seed: int,
                 show_progress: bool) -> dict[str, torch.Tensor]:
    supernet.eval()
    supernet.set_config(supernet.space.largest())
    for p in supernet.parameters():
        p.requires_grad_(False)
    device = next(supernet.parameters()).device
    log_sigma = {g.name: torch.full((g.channels // g.granularity,), float(np.log(0.1)), device=device,
                                    requires_grad=True) for g in supernet.space.groups}
    hooks = []
    for group in supernet.space.groups:
        step = group.granularity

        def add_noise(module, args, out, name=group.name, step=step, offset=0):
            sigma = log_sigma[name].exp().repeat_interleave(step)
            sigma = F.pad(sigma, (offset, max(0, out.shape[1] - len(sigma) - offset)))[: out.shape[1]]
            shape = (1, -1) + (1,) * (out.dim() - 2)
            return out * (1 + sigma.view(shape) * torch.randn_like(out))

        for site, offset in _noise_sites(supernet)[group.name]:
            hooks.append(site.register_forward_hook(functools.partial(add_noise, offset=offset)))
    optimizer = torch.optim.Adam(log_sigma.values(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    done = 0
    try:
        with progress(show_progress) as bar:
            task = bar.add_task("rank", total=steps, status="")
            while done < steps:
                for x, y in batches.epoch(np.random.default_rng([seed, 31, done]), generator, device=device):
                    all_sigmas = torch.cat(list(log_sigma.values()))
                    loss = F.cross_entropy(supernet(x), y) - noise_reward * all_sigmas.mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    done += 1
                    bar.update(task, advance=1, status=f"loss {loss.item():.3f}")
                    if done == steps:
                        break
    finally:
        for hook in hooks:
            hook.remove()
        for p in supernet.parameters():
            p.requires_grad_(True)
    orders = {}
    for group in supernet.space.groups:
        blocks = torch.argsort(log_sigma[group.name].detach().cpu(), stable=True)  # least noise tolerated first
        ranked = (blocks[:, None] * group.granularity + torch.arange(group.granularity)).flatten()
        leftover = torch.arange(len(ranked), group.channels)  # channels past the last whole block stay last
        orders[group.name] = torch.cat([ranked, leftover])
    return orders
