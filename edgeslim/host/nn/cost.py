"""Exact cost of a configuration: multiply-accumulates (MACs) and parameters.

Counted: conv and linear MACs (out_channels x in_channels/groups x kernel area x output pixels; in x out);
parameters of conv, linear and batch norm (weight + bias). Activations, pooling, adds and BN MACs are not
counted (BN folds into the conv at export), as in the slimmable-network papers' FLOPs tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from edgeslim.host.nn.ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from edgeslim.host.nn.supernet import Supernet
from edgeslim.subnets import SubnetConfig


@dataclass(frozen=True)
class Cost:
    macs: int
    params: int

    @property
    def mflops(self) -> float:
        """Millions of MACs (the papers' "MFLOPs")."""
        return self.macs / 1e6


def layer_costs(supernet: Supernet, config: SubnetConfig) -> dict[str, Cost]:
    """MACs and parameters of every slimmable layer at ``config`` (BN layers have parameters only)."""
    shapes = supernet.layer_shapes(config)
    costs = {}
    for name, module in supernet.slim_modules():
        (in_shape, out_shape) = shapes[name]
        if isinstance(module, SlimConv2d):
            cin, cout = in_shape[1], out_shape[1]
            per_out = (module.in_channels // module.groups if module.channelwise else cin) * prod(module.kernel_size)
            costs[name] = Cost(cout * per_out * prod(out_shape[2:]),
                               cout * per_out + (cout if module.bias is not None else 0))
        elif isinstance(module, SlimLinear):
            cin, cout = in_shape[-1], out_shape[-1]
            costs[name] = Cost(cin * cout, cin * cout + (cout if module.bias is not None else 0))
        elif isinstance(module, SlimBatchNorm2d):
            costs[name] = Cost(0, 2 * in_shape[1] if module.affine else 0)
    return costs


def count_cost(supernet: Supernet, config: SubnetConfig) -> Cost:
    """MACs and parameters of ``config`` for one input of the supernet's input shape (a gate included)."""
    layers = list(layer_costs(supernet, config).values())
    if supernet.gate is not None:
        layers.append(Cost(supernet.gate.macs(), supernet.gate.params()))
    return Cost(sum(c.macs for c in layers), sum(c.params for c in layers))
