"""Exact cost of a configuration: multiply-accumulates (MACs) and parameters.

Counted: conv and linear MACs (out_channels x in_channels/groups x kernel area x output pixels; in x out);
parameters of conv, linear and batch norm (weight + bias). Activations, pooling, adds and BN MACs are not
counted (BN folds into the conv at export), as in the slimmable-network papers' FLOPs tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from ..subnets import SubnetConfig
from .ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from .supernet import Supernet


@dataclass(frozen=True)
class Cost:
    macs: int
    params: int

    @property
    def mflops(self) -> float:
        """Millions of MACs (the papers' "MFLOPs")."""
        return self.macs / 1e6


def count_cost(supernet: Supernet, config: SubnetConfig) -> Cost:
    """MACs and parameters of ``config`` for one input of the supernet's input shape."""
    shapes = supernet.layer_shapes(config)
    macs = params = 0
    for name, module in supernet.slim_modules():
        (in_shape, out_shape) = shapes[name]
        cin, cout = in_shape[1], out_shape[1]
        if isinstance(module, SlimConv2d):
            per_out = (1 if module.depthwise else cin) * prod(module.kernel_size)
            macs += cout * per_out * prod(out_shape[2:])
            params += cout * per_out + (cout if module.bias is not None else 0)
        elif isinstance(module, SlimLinear):
            cin, cout = in_shape[-1], out_shape[-1]
            macs += cin * cout
            params += cin * cout + (cout if module.bias is not None else 0)
        elif isinstance(module, SlimBatchNorm2d) and module.affine:
            params += 2 * cin
    return Cost(macs, params)
