"""Built-in models, and the registry user models join: ordinary definitions made slimmable by ``slimify``.

The registry itself is torch-free (built-ins are named as ``module:function`` and imported when built), so
listing the models or checking a name never loads torch.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from edgeslim.errors import EdgeslimError, unknown_name

if TYPE_CHECKING:
    from torch import nn

    from edgeslim.host.nn import Supernet

Factory = Callable[[int, int, int], "nn.Module"]  # (input channels, classes, input size) -> model

MODELS: dict[str, Factory | str] = {
    "resnet20": "edgeslim.host.models.resnet:resnet20",
    "resnet18": "edgeslim.host.models.resnet:resnet18",
    "mobilenetv2": "edgeslim.host.models.mobilenetv2:mobilenetv2",
}

# Where a DS-Net++ gate sits by default: right before this module, i.e. after the stem and the first block.
# Everything before it runs at full width for every input, so an early point keeps the narrowest width cheap.
GATE_POINTS = {"resnet20": "blocks.1", "resnet18": "blocks.1", "mobilenetv2": "blocks.1"}


def register_model(name: str, factory: Factory, gate_before: str | None = None) -> None:
    """Make ``factory(in_channels, num_classes, image_size) -> nn.Module`` trainable as ``model=name`` in this
    process (``gate_before``: its default DS-Net++ gate point)."""
    MODELS[name] = factory
    if gate_before:
        GATE_POINTS[name] = gate_before


def model_name(model: str | Any) -> str:
    """The name a run records for ``model``; a module given directly joins the registry under its class name."""
    if isinstance(model, str):
        return model
    name = type(model).__name__
    template = copy.deepcopy(model)
    register_model(name, lambda c, n, s: copy.deepcopy(template))
    return name


def gate_point(name: str) -> str:
    if name not in GATE_POINTS:
        raise EdgeslimError(f"model '{name}' has no default gate point; pass --gate-before with the module the gate "
                            "sits before (e.g. blocks.1)")
    return GATE_POINTS[name]


def build_supernet(model: str | nn.Module, input_shape: tuple[int, int, int], num_classes: int,
                   granularity: int = 8) -> Supernet:
    """The slimmable ``model`` (a registered name, or a module) for inputs of ``input_shape`` (C, H, W) and
    ``num_classes`` classes."""
    import torch

    from edgeslim.host.nn import slimify

    name = model_name(model)
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    factory = MODELS[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    net = factory(input_shape[0], num_classes, max(input_shape[1:]))
    try:
        with torch.no_grad():
            outputs = net.eval()(torch.zeros(1, *input_shape)).shape
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EdgeslimError(f"model {name} does not take {tuple(input_shape)} inputs ({first})") from None
    if tuple(outputs) != (1, num_classes):
        raise EdgeslimError(f"model {name} gives outputs of shape {tuple(outputs)}; the data has {num_classes} "
                            f"classes (expected (1, {num_classes}))")
    return slimify(net.train(), input_shape, granularity)
