"""Slimmable building blocks: dynamic ops, graph conversion (slimify), the supernet, its gate, cost counting."""

from .gate import GateProgram, WidthGate
from .ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from .slimify import slimify
from .supernet import Supernet
from .cost import count_cost

__all__ = ["GateProgram", "SlimBatchNorm2d", "SlimConv2d", "SlimLinear", "Supernet", "WidthGate", "count_cost",
           "slimify"]
