"""Training methods as plans: each step, which configurations run and what each one learns from.

``usnet`` (Universally Slimmable Networks, Yu & Huang 2019): the sandwich rule — the largest, the smallest and
``n`` random widths every step — with in-place distillation: the largest learns from the labels, every other
width from the largest's (detached) soft predictions. BN statistics are recalibrated per shipped configuration
after training (see ``Supernet.recalibrate_bn``).

``dsnet`` (DS-Net++ stage I, Li et al. 2023): the same sandwich over the widths after the gate, but the other
widths learn from an exponential moving average of the largest (in-place bootstrapping, see ``bootstrap.py``);
stage II then trains the gate's width heads (``edgeslim.host.gate.routing``).

``single``: one fixed width trained alone from the labels — the "individually trained" reference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edgeslim.subnets import ChannelSpace, SubnetConfig


@dataclass(frozen=True)
class Step:
    """Run ``config``; learn from the labels (``distill=False``) or from the largest's predictions."""

    config: SubnetConfig
    distill: bool


def usnet_plan(space: ChannelSpace, rng: np.random.Generator, num_random: int, min_width: float,
               width: float) -> list[Step]:
    steps = [Step(space.largest(), False), Step(space.uniform(min_width, "smallest"), True)]
    steps += [Step(space.uniform(float(rng.uniform(min_width, 1.0)), "random"), True) for _ in range(num_random)]
    return steps


def single_plan(space: ChannelSpace, rng: np.random.Generator, num_random: int, min_width: float,
                width: float) -> list[Step]:
    return [Step(space.uniform(width), False)]


Plan = Callable[[ChannelSpace, np.random.Generator, int, float, float], list[Step]]
METHODS: dict[str, Plan] = {"usnet": usnet_plan, "dsnet": usnet_plan, "single": single_plan}
