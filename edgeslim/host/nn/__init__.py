"""Slimmable building blocks: dynamic ops, graph conversion (slimify), the supernet, cost counting."""

from edgeslim.host.nn.cost import count_cost
from edgeslim.host.nn.ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from edgeslim.host.nn.slimify import slimify
from edgeslim.host.nn.supernet import Supernet

__all__ = ["SlimBatchNorm2d", "SlimConv2d", "SlimLinear", "Supernet", "count_cost", "slimify"]
