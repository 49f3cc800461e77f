"""DS-Net++ routing on a gated supernet: stage II gate training and input-dependent inference (host, torch).

Stage II freezes the supernet (BN in eval, each width with its own recalibrated statistics) and the gate's
attention, so every image's hidden gate vector and every width's logits are fixed: they are computed once
(``RouteCache``) and each width head trains on them in seconds. The loss of one head is

    CE(routed logits, label)                      routed = the logits of a straight-through Gumbel-softmax pick
  + CE(width logits, width target)                the narrowest width that is right on this image, else the
                                                  largest (every target weighted alike: hard images are rare)
  + complexity_weight · E[MACs] / MACs(largest)   expected cost under the head's softmax

so a larger complexity weight moves the head towards narrower widths. At inference the head's argmax picks the
width, restricted to widths not above a cap (the controller's choice on a device).

The confidence cascade routes without a head: every image runs the narrowest width after the gate; an image whose
narrowest-width confidence (top softmax probability) is below a threshold also runs a wider width's remainder on
the same gate features. Thresholds are calibrated on held-out images as quantiles of that confidence, one per
share of images escalated (``CASCADE_SHARES``), so a device picks the share and reads the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from edgeslim.host.gate.modules import straight_through_gumbel
from edgeslim.host.gate.split import prefix_layers
from edgeslim.host.nn import Supernet, count_cost
from edgeslim.host.nn.cost import layer_costs
from edgeslim.host.train.steps import seeded
from edgeslim.subnets import SubnetConfig


CASCADE_SHARES = tuple(round(0.05 * i, 2) for i in range(1, 20))  # shares escalated a threshold is stored for


def head_name(weight: float) -> str:
    """``0.5`` -> ``c0p5``: the width head trained with that complexity weight."""
    return "c" + f"{weight:g}".replace(".", "p").replace("-", "m")


@dataclass
class RouteCache:
    """Per image: the gate's hidden vector and every ladder width's logits (supernet frozen)."""

    hidden: torch.Tensor   # (N, hidden)
    logits: torch.Tensor   # (N, widths, classes)
    labels: torch.Tensor   # (N,)

    @classmethod
    @torch.no_grad()
    def compute(cls, supernet: Supernet, ladder: list[SubnetConfig], x: np.ndarray, y: np.ndarray,
                batch_size: int = 256) -> RouteCache:
        prefix, rest = supernet.halves()
        was_training = supernet.training
        supernet.eval()
        device = next(supernet.parameters()).device
        hidden, logits = [], []
        for i in range(0, len(x), batch_size):
            batch = torch.from_numpy(x[i:i + batch_size]).to(device)
            supernet.set_config(ladder[-1])  # the part before the gate is the same for every width
            features, h = supernet.gate.attend(prefix(batch))
            per_width = []
            for config in ladder:
                supernet.set_config(config)
                per_width.append(rest(features))
            hidden.append(h.cpu())
            logits.append(torch.stack(per_width, 1).cpu())
        supernet.train(was_training)
        return cls(torch.cat(hidden), torch.cat(logits), torch.from_numpy(np.asarray(y)).long())


def ladder_macs(supernet: Supernet, ladder: list[SubnetConfig]) -> np.ndarray:
    """MACs of every ladder width (the gate included)."""
    return np.array([count_cost(supernet, c).macs for c in ladder], dtype=np.float64)


def width_targets(cache: RouteCache) -> torch.Tensor:
    """Per image, the narrowest ladder width that is right, else the largest. (DS-Net++'s sandwich gate
    sparsification targets only the smallest or the largest: its heads route all-or-nothing.)"""
    right = cache.logits.argmax(2) == cache.labels[:, None]
    return torch.where(right.any(1), right.int().argmax(1), cache.logits.shape[1] - 1)


def train_head(supernet: Supernet, cache: RouteCache, macs: np.ndarray, weight: float, epochs: int = 40,
               batch_size: int = 128, lr: float = 3e-3, seed: int = 0, targets: torch.Tensor | None = None) -> str:
    """Add and train the width head for complexity ``weight`` on ``cache`` (``targets``: each image's width
    index, default ``width_targets``); returns its name."""
    with seeded(seed):  # the head's initialization and the Gumbel samples
        name = head_name(weight)
        head = supernet.gate.add_head(name).to(cache.hidden.device)
        optimizer = torch.optim.Adam(head.parameters(), lr=lr)
        targets = width_targets(cache) if targets is None else targets
        counts = torch.bincount(targets, minlength=len(macs)).float()
        balance = torch.where(counts > 0, counts.sum() / ((counts > 0).sum() * counts.clamp(min=1)), 0.0)
        cost = torch.from_numpy(macs / macs.max()).float()
        generator = torch.Generator().manual_seed(seed)
        head.train()
        for _ in range(epochs):
            order = torch.randperm(len(cache.labels), generator=generator)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                width_logits = head(cache.hidden[idx])
                pick = straight_through_gumbel(width_logits)
                routed = (pick[:, :, None] * cache.logits[idx]).sum(1)
                loss = (F.cross_entropy(routed, cache.labels[idx])
                        + F.cross_entropy(width_logits, targets[idx], balance)
                        + weight * (F.softmax(width_logits, 1) @ cost).mean())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    head.eval().requires_grad_(False)
    return name


@torch.no_grad()
def route(supernet: Supernet, cache: RouteCache, head: str, cap: int | None = None) -> np.ndarray:
    """The ladder index each image runs at: the head's argmax over widths ``0..cap`` (all when ``cap`` is None)."""
    width_logits = supernet.gate.heads[head](cache.hidden)
    if cap is not None:
        width_logits[:, cap + 1:] = -torch.inf
    return width_logits.argmax(1).numpy()


def routed_metrics(cache: RouteCache, chosen: np.ndarray, macs: np.ndarray) -> dict:
    """Top-1 (%), average MFLOPs and the share of images per width for routing ``chosen``."""
    logits = cache.logits[torch.arange(len(chosen)), torch.from_numpy(chosen)]
    correct = (logits.argmax(1) == cache.labels).float().mean().item()
    share = np.bincount(chosen, minlength=len(macs)) / max(1, len(chosen))
    return {"top1": round(100 * correct, 2), "mflops": round(float(macs[chosen].mean()) / 1e6, 4),
            "share": [round(float(s), 3) for s in share]}


def shared_macs(supernet: Supernet, config: SubnetConfig) -> int:
    """MACs before the gate's output at ``config``: the shared prefix and the gate (what an escalation reuses)."""
    prefix = set(prefix_layers(supernet.net, supernet.gate_point))
    return sum(c.macs for name, c in layer_costs(supernet, config).items() if name in prefix) + supernet.gate.macs()


def narrow_confidence(cache: RouteCache) -> np.ndarray:
    """Per image, the narrowest width's top softmax probability."""
    return F.softmax(cache.logits[:, 0], 1).max(1).values.numpy()


def cascade_thresholds(cache: RouteCache, shares=CASCADE_SHARES) -> list[float]:
    """The confidence below which each share of ``cache``'s images is escalated (its quantile)."""
    return [round(float(t), 6) for t in np.quantile(narrow_confidence(cache), shares)]


def cascade_route(cache: RouteCache, threshold: float, wide: int) -> np.ndarray:
    """The ladder index each image ends at: ``wide`` where the narrowest width's confidence is below
    ``threshold``, else 0."""
    return np.where(narrow_confidence(cache) < threshold, wide, 0)


def cascade_metrics(cache: RouteCache, chosen: np.ndarray, macs: np.ndarray, shared: int) -> dict:
    """Top-1 (%), average MFLOPs and share escalated of a cascade's routing ``chosen``: an escalated image costs
    the narrowest width plus the wider one's MACs after the gate."""
    metrics = routed_metrics(cache, chosen, macs)
    cost = macs[0] + np.where(chosen > 0, macs[chosen] - shared, 0)
    return {"top1": metrics["top1"], "mflops": round(float(cost.mean()) / 1e6, 4),
            "escalated": round(float((chosen > 0).mean()), 3)}
