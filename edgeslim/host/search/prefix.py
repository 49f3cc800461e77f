"""Run a configuration from the first layer where it differs from a reference configuration.

The search's candidates each differ from their parent in one channel group. Every layer the traced graph runs
before that group's first layer computes the same values for the candidate as for the parent, so the parent's
values there are kept once (per race chunk) and each candidate runs only the rest of the graph. The result is
the same as a full forward pass; on MobileNetV2 most groups start deep in the network.
"""

from __future__ import annotations

import torch
from torch import fx

from edgeslim.host.nn import Supernet
from edgeslim.subnets import SubnetConfig


class SharedPrefix:
    """The values of ``reference`` on one input that later layers need; runs other configurations from there."""

    def __init__(self, supernet: Supernet):
        self.supernet = supernet
        nodes = list(supernet.net.graph.nodes)
        self.position = position = {node: i for i, node in enumerate(nodes)}
        self.start: dict[str, int] = {}  # channel group -> position of the first node its channels change
        for i, node in enumerate(nodes):
            if node.op == "call_module" and node.target in supernet.channels:
                for group in supernet.channels[node.target].groups():
                    self.start.setdefault(group, i)
        self.needs: dict[int, list[fx.Node]] = {  # a start -> the earlier nodes whose values it reads
            start: [n for n in nodes[:start] if any(position[user] >= start for user in n.users)]
            for start in set(self.start.values())}
        self.keep = {n for needed in self.needs.values() for n in needed}
        self.reference: SubnetConfig | None = None
        self.values: dict[fx.Node, torch.Tensor] = {}

    def forget(self) -> None:
        self.reference, self.values = None, {}

    def run_reference(self, config: SubnetConfig, x: torch.Tensor) -> torch.Tensor:
        """Output of the active configuration ``config`` on ``x``; keeps what later layers need."""
        interpreter = _Keeping(self.supernet.net, self.keep)
        out = interpreter.run(x)
        self.reference, self.values = config, interpreter.kept
        return out

    def run(self, config: SubnetConfig, x: torch.Tensor) -> torch.Tensor:
        """Output of the active configuration ``config`` on the reference's input ``x``, from the first layer
        where it differs from the reference (a full pass where it differs from the first layer on)."""
        changed = [g for g, count in config.channels.items() if count != self.reference.channels[g]]
        start = min((self.start[g] for g in changed if g in self.start), default=None)
        if start is None:
            return self.supernet.net(x)
        return _From(self, start).run(x)


class _From(fx.Interpreter):
    """An interpreter that takes the nodes before ``start`` from ``prefix``'s reference values (None where
    nothing from ``start`` on reads them) instead of running them."""

    def __init__(self, prefix: SharedPrefix, start: int):
        super().__init__(prefix.supernet.net)
        self.prefix, self.start = prefix, start

    def run_node(self, node: fx.Node):
        if self.prefix.position[node] < self.start:
            value = self.prefix.values.get(node)
            return None if value is None else value.clone()  # later in-place ops must not change the kept value
        return super().run_node(node)


class _Keeping(fx.Interpreter):
    """An interpreter that keeps the values of the nodes in ``keep``."""

    def __init__(self, net: fx.GraphModule, keep: set[fx.Node]):
        super().__init__(net)
        self.keep, self.kept = keep, {}

    def run_node(self, node: fx.Node):
        value = super().run_node(node)
        if node in self.keep:
            self.kept[node] = value.clone()  # as it is now, before any in-place op of a later node
        return value
