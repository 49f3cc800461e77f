"""Slimmable building blocks: dynamic ops, graph conversion (slimify), the supernet, cost counting."""

from .ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from .slimify import slimify
from .supernet import Supernet
from .cost import count_cost

__all__ = ["SlimBatchNorm2d", "SlimConv2d", "SlimLinear", "Supernet", "count_cost", "slimify"]
