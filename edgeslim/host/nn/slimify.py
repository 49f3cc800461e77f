"""Turn an ordinary CNN into a slimmable supernet by tracing its graph and deriving its channel groups.

Every tensor in the traced graph gets a channel dimension. A plain conv or linear layer starts a new dimension;
batch norm, depthwise convs, activations, pooling and flatten keep their input's; a residual add merges the
dimensions of its inputs (union-find), so all layers whose outputs are summed form one channel group; so does an
element-wise product of two feature maps (squeeze-and-excitation: the map times the gate computed from it, whose
last conv joins the map's group while the squeeze width is a group of its own). The network's input and output
dimensions stay fixed at full width.
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from edgeslim.errors import EdgeslimError
from edgeslim.host.nn.ops import SLIM_TYPES, to_slim
from edgeslim.host.nn.supernet import Supernet
from edgeslim.subnets import ChannelGroup, ChannelSpace, group_granularity

_KEEP_MODULES = (nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.Sigmoid,
                 nn.Tanh, nn.LeakyReLU, nn.Dropout, nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                 nn.AdaptiveMaxPool2d, nn.Flatten)
_KEEP_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, F.hardswish, F.hardsigmoid, F.silu, F.gelu,
                   torch.sigmoid, F.dropout,
                   F.adaptive_avg_pool2d, F.avg_pool2d, F.max_pool2d, torch.flatten, torch.mean}
_KEEP_METHODS = {"relu", "relu_", "sigmoid", "contiguous", "flatten", "view", "reshape", "mean", "clamp"}
# element-wise: a residual add, or a feature map times a gate (squeeze-and-excitation); both operands share channels
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add, operator.mul, operator.imul, torch.mul}
_ADD_METHODS = {"add", "add_", "mul", "mul_"}
_META_METHODS = {"size", "dim"}


class _Dims:
    """Union-find over channel dimensions, with the layers producing each and whether it is fixed."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int | None] = []
        self.fixed: list[bool] = []
        self.producers: list[list[str]] = []

    def new(self, size: int | None, producer: str | None = None, fixed: bool = False) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.fixed.append(fixed)
        self.producers.append([producer] if producer else [])
        return len(self.parent) - 1

    def find(self, d: int) -> int:
        while self.parent[d] != d:
            self.parent[d] = self.parent[self.parent[d]]
            d = self.parent[d]
        return d

    def union(self, a: int, b: int, where: str) -> int:
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        if None not in (self.size[a], self.size[b]) and self.size[a] != self.size[b]:
            raise EdgeslimError(f"slimify: {where} combines tensors of {self.size[a]} and {self.size[b]} channels")
        self.parent[b] = a
        self.size[a] = self.size[a] or self.size[b]
        self.fixed[a] = self.fixed[a] or self.fixed[b]
        self.producers[a] += self.producers[b]
        return a


def slimify(model: nn.Module, input_shape: tuple[int, int, int], granularity: int = 8) -> Supernet:
    """A slimmable supernet sharing ``model``'s weights, with channel groups derived from its traced graph.

    ``input_shape`` is (channels, height, width) of one input. Supported: Conv2d (plain or depthwise), Linear,
    BatchNorm2d, activations, pooling, flatten, residual adds and squeeze-and-excitation products; anything else is
    a clear error naming the node.
    """
    try:
        graph_module = fx.symbolic_trace(model)
    except Exception as exc:  # fx raises many types for untraceable control flow
        raise EdgeslimError(f"slimify: cannot trace {type(model).__name__} with torch.fx ({exc})") from None
    modules = dict(graph_module.named_modules())
    dims = _Dims()
    dim_of: dict[fx.Node, int] = {}
    input_dim: dict[str, int] = {}  # layer name -> channel dimension of its input
    meta: set[fx.Node] = set()  # nodes holding shapes/ints, not feature maps

    def tensor_args(node: fx.Node) -> list[fx.Node]:
        return [a for a in node.all_input_nodes if a not in meta]

    for node in graph_module.graph.nodes:
        where = f"node '{node.name}' ({node.op} {node.target})"
        if node.op == "placeholder":
            dim_of[node] = dims.new(input_shape[0], fixed=True)
        elif node.op == "output":
            for arg in tensor_args(node):
                dims.fixed[dims.find(dim_of[arg])] = True
        elif node.op == "call_module":
            module = modules[node.target]
            (src,) = tensor_args(node)
            input_dim[node.target] = dim_of[src]
            if isinstance(module, nn.Conv2d) and type(module) is nn.Conv2d:
                if module.groups == 1:
                    dim_of[node] = dims.new(module.out_channels, node.target)
                elif module.groups == module.in_channels == module.out_channels:
                    dim_of[node] = dim_of[src]
                else:
                    raise EdgeslimError(f"slimify: grouped convolution at {where} is not supported "
                                        "(only plain and depthwise convs)")
            elif type(module) is nn.Linear:
                dim_of[node] = dims.new(module.out_features, node.target)
            elif isinstance(module, _KEEP_MODULES):
                dim_of[node] = dim_of[src]
            else:
                raise EdgeslimError(f"slimify: unsupported layer {type(module).__name__} at {where}")
        elif node.op == "call_function" and node.target in _ADD_FUNCTIONS or (
                node.op == "call_method" and node.target in _ADD_METHODS):
            args = tensor_args(node)  # a scalar operand (x * 0.5) has no channel dimension
            dim = dim_of[args[0]]
            for other in args[1:]:
                dim = dims.union(dim, dim_of[other], where)
            dim_of[node] = dim
        elif node.op == "call_function" and node.target in _KEEP_FUNCTIONS or (
                node.op == "call_method" and node.target in _KEEP_METHODS):
            dim_of[node] = dim_of[tensor_args(node)[0]]
        elif node.op == "call_method" and node.target in _META_METHODS or (
                node.op == "call_function" and node.target in (operator.getitem, getattr)
                and all(a in meta for a in node.all_input_nodes)):
            meta.add(node)
        else:
            raise EdgeslimError(f"slimify: unsupported operation at {where}; supported are convs, linear, "
                                "batch norm, activations, pooling, flatten, residual adds and products")

    groups, assignment, group_of_root = [], {}, {}
    order = {name: i for i, name in enumerate(n.target for n in graph_module.graph.nodes if n.op == "call_module")}
    for root in sorted({dims.find(d) for d in dim_of.values()}):
        producers = sorted(set(dims.producers[root]), key=order.__getitem__)
        if not producers:
            continue
        if dims.fixed[root]:
            assignment.update({p: None for p in producers})
            continue
        size = dims.size[root]
        groups.append(ChannelGroup(producers[0], size, group_granularity(size, granularity), tuple(producers)))
        assignment.update({p: producers[0] for p in producers})
        group_of_root[root] = producers[0]
    input_groups = {name: group_of_root.get(dims.find(d)) for name, d in input_dim.items()
                    if type(modules[name]) in SLIM_TYPES}
    if not groups:
        raise EdgeslimError(f"slimify: {type(model).__name__} has no slimmable channels (no conv/linear "
                            "layer whose output is not the network output)")

    for name, module in modules.items():
        if type(module) in SLIM_TYPES:
            parent_name, _, child = name.rpartition(".")
            setattr(graph_module.get_submodule(parent_name) if parent_name else graph_module, child,
                    to_slim(module))
    graph_module.recompile()
    return Supernet(graph_module, ChannelSpace(tuple(groups)), assignment, input_groups, tuple(input_shape))
