"""A gated supernet as device programs: the ``gate`` program (shared prefix, attention, width heads), one
remainder per width after it, and the recipes of the gate's own weights in the shared blob."""

from __future__ import annotations

import copy

import torch
from torch import fx, nn

from edgeslim.host.gate.modules import GateProgram
from edgeslim.host.gate.split import split_at
from edgeslim.host.nn import Supernet


def gate_recipes(supernet: Supernet) -> dict[str, dict]:
    """Recipes of the gate's own weights (stored whole in the blob as ``gate.*``)."""
    return {f"gate.{name}": {"source": f"gate.{name}", "shape": list(p.shape), "bn": None}
            for name, p in supernet.gate.state_dict().items() if p.ndim == 2}


def gated_programs(supernet: Supernet, statics: dict[str, fx.GraphModule]) -> tuple[dict[str, nn.Module],
                                                                                       dict[str, torch.Tensor]]:
    """A gated supernet's widths as device programs: ``gate`` (the shared prefix, the attention and every width
    head: image → features, head × width logits) and, per width, the remainder after the gate (features → logits).
    ``statics`` are the widths as static models (largest last); returns the programs and their example inputs."""
    halves = {name: split_at(static, supernet.gate_point) for name, static in statics.items()}
    prefix = halves[list(statics)[-1]][0]
    gate = GateProgram(prefix, copy.deepcopy(supernet.gate)).eval().requires_grad_(False)
    image = torch.zeros(1, *supernet.input_shape)
    with torch.no_grad():
        features = prefix(image)
    programs = {"gate": gate, **{name: rest.eval() for name, (_, rest) in halves.items()}}
    examples = {"gate": image, **{name: torch.zeros_like(features) for name in statics}}
    return programs, examples
