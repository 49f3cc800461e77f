"""Built-in models: ordinary definitions made slimmable by ``slimify``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from edgeslim.errors import unknown_name
from edgeslim.host.models.mobilenetv2 import mobilenetv2
from edgeslim.host.models.resnet import resnet18, resnet20
from edgeslim.host.nn import Supernet, slimify

MODELS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "resnet20": resnet20,
    "resnet18": resnet18,
    "mobilenetv2": mobilenetv2,
}


# Where a DS-Net++ gate sits by default: right before this module, i.e. after the stem and the first block.
# Everything before it runs at full width for every input, so an early point keeps the narrowest width cheap.
GATE_POINTS = {"resnet20": "blocks.1", "resnet18": "blocks.1", "mobilenetv2": "blocks.1"}


def build_supernet(name: str, input_shape: tuple[int, int, int], num_classes: int, granularity: int = 8) -> Supernet:
    """The slimmable ``name`` model for inputs of ``input_shape`` (C, H, W) and ``num_classes`` classes."""
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    model = MODELS[name](input_shape[0], num_classes, max(input_shape[1:]))
    return slimify(model, input_shape, granularity)
