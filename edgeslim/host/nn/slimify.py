"""Turn an ordinary CNN into a slimmable supernet by tracing its graph and deriving its channel groups.

Every tensor's channel dimension is a sequence of *segments*. A plain conv or linear layer starts a new one;
batch norm, depthwise and grouped convs, activations, pooling and flatten keep their input's; a concat is the
segments of its inputs in order. Element-wise adds and products couple their operands' channels (union-find,
refined so both sides have the same segment boundaries): the layers whose outputs are summed form one channel
group, and squeeze-and-excitation's last conv joins its feature map's group. A grouped conv slims whole groups,
so its group's granularity is a multiple of the group width. What cannot be nested (channel shuffle, reshapes of
the channel axis, unknown layers) keeps its channels at full width, said in one line. The network's input and
output stay at full width.
"""

from __future__ import annotations

import math
import operator

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata

from edgeslim.console import console
from edgeslim.errors import EdgeslimError
from edgeslim.host.nn.channels import LayerChannels, Segment
from edgeslim.host.nn.layers import DropPath, SamePad2d, rule_for
from edgeslim.host.nn.ops import SLIM_TYPES, to_slim
from edgeslim.host.nn.supernet import Supernet
from edgeslim.subnets import ChannelGroup, ChannelSpace, group_granularity

_KEEP_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.Sigmoid, nn.Tanh,
                 nn.LeakyReLU, nn.PReLU, nn.Dropout, nn.Identity, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                 nn.AdaptiveMaxPool2d, nn.ZeroPad2d, SamePad2d, DropPath)
_KEEP_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, F.hardswish, F.hardsigmoid, F.silu, F.gelu,
                   torch.sigmoid, F.sigmoid, torch.tanh, F.dropout, F.leaky_relu, F.adaptive_avg_pool2d,
                   F.adaptive_max_pool2d, F.avg_pool2d, F.max_pool2d, F.pad, torch.mean, torch.amax,
                   torch.clamp}
_KEEP_METHODS = {"relu", "relu_", "sigmoid", "sigmoid_", "tanh", "contiguous", "mean", "amax", "clamp", "clamp_",
                 "float", "to"}
_RESHAPES = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose, torch.permute,
             "flatten", "view", "reshape", "squeeze", "unsqueeze", "transpose", "permute", "view_as", "expand_as"}
_ELEMENTWISE = {operator.add, operator.iadd, torch.add, operator.mul, operator.imul, torch.mul, operator.sub,
                torch.sub, operator.truediv, torch.div, "add", "add_", "mul", "mul_", "sub", "div"}
_CONCATS = {torch.cat, torch.concat}
_printed: set[tuple[str, tuple[str, ...]]] = set()


class _Dims:
    """Union-find over channel dimensions; a dimension is a leaf (one channel group) or a list of parts."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.size: list[int] = []
        self.fixed: list[bool] = []
        self.multiple: list[int] = []  # channel counts must be multiples of this (grouped convs)
        self.producers: list[list[str]] = []
        self.parts: list[list[int] | None] = []

    def new(self, size: int, producer: str | None = None, fixed: bool = False, parts: list[int] | None = None
            ) -> int:
        self.parent.append(len(self.parent))
        self.size.append(size)
        self.fixed.append(fixed)
        self.multiple.append(1)
        self.producers.append([producer] if producer else [])
        self.parts.append(parts)
        return len(self.parent) - 1

    def find(self, d: int) -> int:
        while self.parent[d] != d:
            self.parent[d] = self.parent[self.parent[d]]
            d = self.parent[d]
        return d

    def leaves(self, d: int) -> list[int]:
        d = self.find(d)
        return [d] if self.parts[d] is None else [leaf for p in self.parts[d] for leaf in self.leaves(p)]

    def total(self, d: int) -> int:
        return sum(self.size[leaf] for leaf in self.leaves(d))

    def fix(self, d: int) -> None:
        for leaf in self.leaves(d):
            self.fixed[leaf] = True

    def _split(self, leaf: int, boundaries: set[int]) -> None:
        """Refine ``leaf`` at the given inner offsets; its parts inherit its producers and constraints."""
        cuts = [0, *sorted(boundaries), self.size[leaf]]
        parts = [self.new(b - a) for a, b in zip(cuts, cuts[1:])]
        for part in parts:
            self.producers[part] = list(self.producers[leaf])
            self.multiple[part] = self.multiple[leaf]
            self.fixed[part] = self.fixed[leaf] or self.size[part] % self.multiple[leaf] != 0
        if any(self.fixed[p] for p in parts):  # a grouped conv's group would straddle the cut
            for part in parts:
                self.fixed[part] = True
        self.parts[leaf] = parts

    def _refine(self, d: int, cuts: set[int]) -> None:
        offset = 0
        for leaf in self.leaves(d):
            inner = {c - offset for c in cuts if offset < c < offset + self.size[leaf]}
            if inner:
                self._split(leaf, inner)
            offset += self.size[leaf]

    def _cuts(self, d: int) -> set[int]:
        cuts, offset = set(), 0
        for leaf in self.leaves(d):
            offset += self.size[leaf]
            cuts.add(offset)
        return cuts

    def union(self, a: int, b: int, where: str) -> None:
        if self.total(a) != self.total(b):
            raise EdgeslimError(f"slimify: {where} combines tensors of {self.total(a)} and {self.total(b)} channels")
        cuts = self._cuts(a) | self._cuts(b)
        self._refine(a, cuts)
        self._refine(b, cuts)
        for x, y in zip(self.leaves(a), self.leaves(b)):
            x, y = self.find(x), self.find(y)
            if x != y:
                self.parent[y] = x
                self.fixed[x] = self.fixed[x] or self.fixed[y]
                self.multiple[x] = math.lcm(self.multiple[x], self.multiple[y])
                self.producers[x] += self.producers[y]

    def segments(self, d: int) -> tuple[tuple[int, int, int], ...]:
        """``(leaf, offset, size)`` of every leaf of ``d``, in order."""
        out, offset = [], 0
        for leaf in self.leaves(d):
            out.append((leaf, offset, self.size[leaf]))
            offset += self.size[leaf]
        return tuple(out)


def _trace(model: nn.Module) -> fx.GraphModule:
    """Trace ``model`` with registered layers as leaves, then replace each by the layers its rule gives."""
    class Tracer(fx.Tracer):
        def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
            return rule_for(m) is not None or super().is_leaf_module(m, qualname)

    try:
        graph = Tracer().trace(model)
    except Exception as exc:  # fx raises many types for untraceable control flow
        raise EdgeslimError(f"slimify: cannot trace {type(model).__name__} with torch.fx ({exc})") from None
    graph_module = fx.GraphModule(model, graph, type(model).__name__)
    for node in list(graph_module.graph.nodes):
        if node.op != "call_module":
            continue
        module = graph_module.get_submodule(node.target)
        rule = rule_for(module)
        if rule is None:
            continue
        parts = list(rule(module))
        holders = [i for i, p in enumerate(parts) if next(iter(p.state_dict().values()), None) is not None]
        if len(holders) > 1:
            raise EdgeslimError(f"slimify: the layer rule for {type(module).__name__} returns "
                                f"{len(holders)} layers with parameters; exactly one may hold them")
        keeper = holders[0] if holders else 0
        value = node.args[0]
        with graph_module.graph.inserting_before(node):
            for i, part in enumerate(parts):
                target = node.target if i == keeper else f"{node.target}_{i}"
                graph_module.add_submodule(target, part)
                value = graph_module.graph.call_module(target, (value,))
        node.replace_all_uses_with(value)
        graph_module.graph.erase_node(node)
    graph_module.recompile()
    return graph_module


def _shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return tuple(meta.shape) if isinstance(meta, TensorMetadata) else None


def _target(node: fx.Node):
    return node.target if node.op in ("call_function", "call_method") else None


def slimify(model: nn.Module, input_shape: tuple[int, int, int], granularity: int = 8) -> Supernet:
    """A slimmable supernet sharing ``model``'s weights, with channel groups derived from its traced graph.

    ``input_shape`` is (channels, height, width) of one input. Slims Conv2d (plain, depthwise, grouped), Linear,
    BatchNorm2d, activations, pooling, flatten, residual adds, squeeze-and-excitation products and concats;
    channels through anything else stay at full width (see ``Supernet.full_width``).
    """
    graph_module = _trace(model)
    was_training = model.training
    graph_module.eval()
    with torch.no_grad():
        ShapeProp(graph_module).propagate(torch.zeros(1, *input_shape))
    graph_module.train(was_training)
    modules = dict(graph_module.named_modules())
    dims = _Dims()
    dim_of: dict[fx.Node, int] = {}
    layer_dims: dict[str, tuple[int, int, int]] = {}  # layer -> (output dim, input dim, features per channel)
    full_width: dict[str, str] = {}
    constants: set[fx.Node] = set()

    def tensors(node: fx.Node) -> list[fx.Node]:
        return [a for a in node.all_input_nodes if a in dim_of]

    def keep_full(node: fx.Node, reason: str) -> None:
        """Channels through ``node`` cannot be nested: its inputs stay full, its output is a fixed dimension."""
        for arg in tensors(node):
            dims.fix(dim_of[arg])
        shape = _shape(node)
        if shape is not None:
            dim_of[node] = dims.new(shape[1] if len(shape) > 1 else 1, fixed=True)
        full_width[node.name] = reason

    for node in graph_module.graph.nodes:
        where = f"node '{node.name}' ({node.op} {node.target})"
        shape, target = _shape(node), _target(node)
        args = tensors(node)
        if node.op == "placeholder":
            dim_of[node] = dims.new(input_shape[0], fixed=True)
        elif node.op == "output":
            for arg in args:
                dims.fix(dim_of[arg])
        elif shape is None:
            if args and isinstance(node.meta.get("tensor_meta"), tuple):
                keep_full(node, f"{target} splits the channels")  # chunk / split: their pieces are fixed
                for user in node.users:
                    dim_of[user] = dims.new(_shape(user)[1], fixed=True)
            continue  # sizes, ints: not feature maps
        elif node.op == "get_attr":
            dim_of[node] = dims.new(shape[1] if len(shape) > 1 else 1, fixed=True)  # a constant: full width
            constants.add(node)
        elif node in dim_of:
            continue  # a piece of a split, already fixed
        elif node.op == "call_module":
            module = modules[node.target]
            (src,) = args
            if type(module) is nn.Conv2d:
                if module.groups == 1:
                    dim_of[node] = dims.new(module.out_channels, node.target)
                    layer_dims[node.target] = (dim_of[node], dim_of[src], 1)
                elif module.in_channels == module.out_channels:
                    group_width = module.in_channels // module.groups
                    dim_of[node] = dim_of[src]
                    if any(dims.size[leaf] % group_width for leaf in dims.leaves(dim_of[src])):
                        dims.fix(dim_of[src])
                        full_width[node.name] = f"grouped conv {node.target}: its input's segments split its groups"
                    for leaf in dims.leaves(dim_of[src]):
                        dims.multiple[leaf] = math.lcm(dims.multiple[leaf], group_width)
                    layer_dims[node.target] = (dim_of[src], dim_of[src], 1)
                else:
                    keep_full(node, f"grouped conv {node.target} has {module.in_channels} inputs and "
                                    f"{module.out_channels} outputs")
                    layer_dims[node.target] = (dim_of[node], dim_of[src], 1)
            elif type(module) is nn.Linear and len(_shape(src)) == 2:
                total = dims.total(dim_of[src])
                if module.in_features % total:
                    keep_full(node, f"{node.target} reads {module.in_features} features of {total} channels")
                else:
                    dim_of[node] = dims.new(module.out_features, node.target)
                layer_dims[node.target] = (dim_of[node], dim_of[src], module.in_features // total)
            elif type(module) is nn.BatchNorm2d:
                dim_of[node] = dim_of[src]
                layer_dims[node.target] = (dim_of[src], dim_of[src], 1)
            elif isinstance(module, _KEEP_MODULES) or (isinstance(module, nn.Flatten) and _keeps_channels(src, shape)):
                dim_of[node] = dim_of[src]
            else:
                keep_full(node, f"{type(module).__name__} layer {node.target} is not slimmable")
        elif target in _CONCATS:
            axis = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else 0)
            if axis in (1, 1 - len(shape)):
                parts = [dim_of[a] for a in node.args[0]]
                dim_of[node] = dims.new(shape[1], parts=parts)
            else:
                keep_full(node, "concat along a non-channel axis")
        elif target in _ELEMENTWISE:
            scales = [a.target for a in args if a in constants and math.prod(_shape(a)) > 1]
            coupled = [a for a in args if len(_shape(a)) > 1 and _shape(a)[1] == shape[1]]
            if scales or not coupled:
                keep_full(node, f"{target} with a per-channel constant ({scales[0]})" if scales
                          else f"{target} broadcasts over the channels")
                continue
            for other in coupled[1:]:
                dims.union(dim_of[coupled[0]], dim_of[other], where)
            dim_of[node] = dim_of[coupled[0]]
        elif target in _KEEP_FUNCTIONS or target in _KEEP_METHODS:
            dim_of[node] = dim_of[args[0]]
        elif target in _RESHAPES and _keeps_channels(args[0], shape):
            dim_of[node] = dim_of[args[0]]
        elif target is operator.getitem and _shape(args[0]) == shape:
            dim_of[node] = dim_of[args[0]]
        else:
            keep_full(node, f"{target} changes the channel axis")

    channels, space = _channel_space(graph_module, dims, layer_dims, granularity)
    if not space.groups:
        raise EdgeslimError(f"slimify: {type(model).__name__} has no slimmable channels (no conv/linear "
                            "layer whose output is not the network output)")
    _report(type(model).__name__, full_width)
    for name, module in modules.items():
        if type(module) in SLIM_TYPES:
            parent_name, _, child = name.rpartition(".")
            setattr(graph_module.get_submodule(parent_name) if parent_name else graph_module, child,
                    to_slim(module))
    graph_module.recompile()
    return Supernet(graph_module, space, channels, tuple(input_shape), full_width)


def _keeps_channels(src: fx.Node, shape: tuple[int, ...]) -> bool:
    """A reshape that leaves channel c where it was: flattening C x H x W, or adding/removing 1-sized axes."""
    before = _shape(src)
    if len(before) < 2 or len(shape) < 2 or before[0] != shape[0]:
        return False
    if len(shape) == 2 and math.prod(before[1:]) == shape[1]:
        return True  # flatten: channel-major
    squeezed = [n for n in before[2:] if n != 1], [n for n in shape[2:] if n != 1]
    return before[1] == shape[1] and squeezed[0] == squeezed[1]


def _channel_space(graph_module: fx.GraphModule, dims: _Dims, layer_dims: dict[str, tuple[int, int, int]],
                   granularity: int) -> tuple[dict[str, LayerChannels], ChannelSpace]:
    order = {n.target: i for i, n in enumerate(graph_module.graph.nodes) if n.op == "call_module"}
    leaves = {dims.find(leaf) for out, inp, _ in layer_dims.values() for d in (out, inp) for leaf in dims.leaves(d)}
    names: dict[int, str] = {}
    groups = []
    for leaf in sorted(leaves):
        producers = sorted(set(dims.producers[leaf]), key=order.__getitem__)
        if dims.fixed[leaf] or not producers:
            continue
        offset = next(off for lf, off, _ in dims.segments(layer_dims[producers[0]][0]) if lf == leaf)
        name = producers[0] if offset == 0 else f"{producers[0]}@{offset}"
        while name in names.values():
            name += "'"
        names[leaf] = name
        size, multiple = dims.size[leaf], dims.multiple[leaf]
        step = multiple * math.ceil(group_granularity(size, granularity) / multiple)
        groups.append(ChannelGroup(name, size, step, tuple(producers)))

    def segments(d: int) -> tuple[Segment, ...]:
        return tuple(Segment(names.get(dims.find(leaf)), off, size) for leaf, off, size in dims.segments(d))

    channels = {layer: LayerChannels(segments(out), segments(inp), per_channel)
                for layer, (out, inp, per_channel) in layer_dims.items()}
    return channels, ChannelSpace(tuple(groups))


def _report(model_name: str, full_width: dict[str, str]) -> None:
    key = (model_name, tuple(full_width))
    if full_width and key not in _printed:
        _printed.add(key)
        first = next(iter(full_width.items()))
        more = f" (and {len(full_width) - 1} more places)" if len(full_width) > 1 else ""
        console.print(f"slimify: {model_name} keeps some channels at full width: node '{first[0]}': "
                      f"{first[1]}{more}")
