"""In-place bootstrapping (DS-Net++ stage I): the sub-nets distil from an exponential moving average of the
largest sub-net — a slowly moving teacher — instead of the live largest one."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from edgeslim.host.nn import Supernet
from edgeslim.subnets import SubnetConfig


class EmaTeacher:
    """A frozen copy of the supernet whose parameters follow the live ones: ``ema ← d·ema + (1−d)·live``.

    The decay warms up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates (as TensorFlow's moving
    averages do): early on the live weights change fast and a slow average would teach from a random network.
    """

    def __init__(self, supernet: Supernet, decay: float, config: SubnetConfig, updates: int = 0):
        self.model = copy.deepcopy(supernet).requires_grad_(False)
        self.decay, self.config, self.updates = decay, config, updates

    @torch.no_grad()
    def update(self, supernet: Supernet) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        self.updates += 1
        for ema, live in zip(self.model.parameters(), supernet.parameters()):
            ema.lerp_(live, 1.0 - decay)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher's soft predictions (largest width, batch statistics like the live largest)."""
        self.model.set_config(self.config)
        self.model.train()
        return F.softmax(self.model(x), 1)

    def state(self) -> dict[str, torch.Tensor]:
        return {f"ema.{name}": p for name, p in self.model.named_parameters()}

    @torch.no_grad()
    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        for name, p in self.model.named_parameters():
            p.copy_(tensors[f"ema.{name}"])
