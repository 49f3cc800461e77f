"""Run a configuration from the first layer where it differs from a reference configuration.

The search's candidates each differ from their parent in one channel group. Every layer the traced graph runs
before that group's first layer computes the same values for the candidate as for the parent, so the parent's
values there are kept (per held-out chunk) and each candidate runs only the rest of the graph. A run can keep its
own values too: the search keeps its finalists', and the winner's become the next step's reference without
running it again. The result is the same as a full forward pass; on MobileNetV2 most groups start deep in the
network.
"""

from __future__ import annotations

import torch
from torch import fx

from edgeslim.host.nn import Supernet
from edgeslim.subnets import SubnetConfig

Values = dict[fx.Node, torch.Tensor]


class SharedPrefix:
    """Per input (a held-out chunk), a reference configuration and its values that later layers need; runs
    other configurations from there. Values kept by ``run(..., keep=True)`` wait until ``promote`` makes them
    the references."""

    def __init__(self, supernet: Supernet):
        self.supernet = supernet
        nodes = list(supernet.net.graph.nodes)
        self.position = position = {node: i for i, node in enumerate(nodes)}
        self.start: dict[str, int] = {}  # channel group -> position of the first node its channels change
        for i, node in enumerate(nodes):
            if node.op == "call_module" and node.target in supernet.channels:
                for group in supernet.channels[node.target].groups():
                    self.start.setdefault(group, i)
        self.needs: dict[int, set[fx.Node]] = {  # a start -> the earlier nodes whose values it reads
            start: {n for n in nodes[:start] if any(position[user] >= start for user in n.users)}
            for start in set(self.start.values())}
        self.keep = set().union(*self.needs.values())
        self.references: dict[int, tuple[SubnetConfig, Values]] = {}  # input -> its reference and values
        self.kept: dict[tuple[str, int], Values] = {}  # (configuration key, input) -> values, until promote

    def forget(self) -> None:
        """Drop every value (the weights changed)."""
        self.references, self.kept = {}, {}

    def reference(self, index: int) -> SubnetConfig | None:
        return self.references.get(index, (None, None))[0]

    def run(self, config: SubnetConfig, index: int, x: torch.Tensor, keep: bool = False) -> torch.Tensor:
        """Output of the active configuration ``config`` on input ``index`` (``x``), from the first layer where
        it differs from that input's reference (a full pass without one); ``keep``: keep its values."""
        start, values = 0, {}
        if index in self.references:
            reference, values = self.references[index]
            changed = [g for g, count in config.channels.items() if count != reference.channels[g]]
            start = min((self.start[g] for g in changed if g in self.start), default=0)
        if start == 0 and not keep:
            return self.supernet.net(x)
        interpreter = _From(self, start, values, keep)
        out = interpreter.run(x)
        if keep:
            self.kept[config.key(), index] = interpreter.kept
        return out

    def promote(self, config: SubnetConfig) -> None:
        """``config``'s kept values become the references of their inputs; other kept values are dropped.
        Inputs where ``config`` kept nothing keep their reference (still valid while the weights are)."""
        for (key, index), values in self.kept.items():
            if key == config.key():
                self.references[index] = config, values
        self.kept = {}


class _From(fx.Interpreter):
    """An interpreter that takes the nodes before ``start`` from ``values`` (None where nothing from ``start``
    on reads them) instead of running them; with ``keep``, it keeps what later layers need of its own run."""

    def __init__(self, prefix: SharedPrefix, start: int, values: Values, keep: bool):
        super().__init__(prefix.supernet.net)
        self.prefix, self.start, self.values, self.keep = prefix, start, values, keep
        self.needs = prefix.needs.get(start, set())
        self.kept: Values = {}

    def run_node(self, node: fx.Node):
        if self.prefix.position[node] < self.start:
            value = self.values.get(node)
            if value is not None and self.keep:
                self.kept[node] = value  # the same values: shared, never changed (handed out as copies)
            return _copy(value) if node in self.needs else None  # later in-place ops must not change a kept value
        value = super().run_node(node)
        if self.keep and node in self.prefix.keep:
            self.kept[node] = _copy(value)  # as it is now, before any in-place op of a later node
        return value


def _copy(value):
    return value.clone() if isinstance(value, torch.Tensor) else value
