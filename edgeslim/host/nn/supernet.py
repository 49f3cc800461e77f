"""The supernet: a slimmable graph, its channel space, the active configuration and per-config BN statistics."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import replace

import torch
from torch import fx, nn

from edgeslim.host.gate.modules import WidthGate
from edgeslim.host.gate.split import prefix_layers, split_at
from edgeslim.host.nn.channels import LayerChannels, narrow, permutation, take
from edgeslim.host.nn.ops import SlimBatchNorm2d, SlimConv2d, SlimLinear
from edgeslim.subnets import ChannelSpace, SubnetConfig

_SLIM = (SlimConv2d, SlimLinear, SlimBatchNorm2d)


class Supernet(nn.Module):
    """Runs any configuration of one set of weights.

    ``net`` is the traced model with slimmable ops (its state-dict keys are the original model's);
    ``channels`` gives every slimmable layer's output and input channels as segments of channel groups;
    ``full_width`` says, per node kept at full width by slimify, why.
    """

    def __init__(self, net: fx.GraphModule, space: ChannelSpace, channels: dict[str, LayerChannels],
                 input_shape: tuple[int, int, int], full_width: dict[str, str] | None = None):
        super().__init__()
        self.net = net
        self.space = space
        self.channels = channels
        self.full_width = full_width or {}
        self.input_shape = input_shape
        self.config: SubnetConfig = space.largest()
        self.bn_stats: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self.gate: WidthGate | None = None
        self.gate_point: str | None = None
        self._halves: tuple[fx.GraphModule, fx.GraphModule] | None = None  # share ``net``'s modules

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is None:
            return self.net(x)
        prefix, rest = self._halves
        return rest(self.gate.attend(prefix(x))[0])

    @torch.no_grad()
    def attach_gate(self, before: str, num_widths: int, hidden: int = 32) -> WidthGate:
        """Insert a DS-Net++ gate right before module ``before``: its attention rescales the features there and
        its width heads choose among ``num_widths`` widths."""
        prefix, rest = split_at(self.net, before)
        was_training = self.training
        self.eval()  # the probe must not touch BN running statistics
        channels = prefix(torch.zeros(1, *self.input_shape)).shape[1]
        self.train(was_training)
        self.gate, self.gate_point, self._halves = WidthGate(channels, num_widths, hidden), before, (prefix, rest)
        self.space = replace(self.space, fixed=self.fixed_groups())  # uniform widths keep that part full
        return self.gate

    def halves(self) -> tuple[fx.GraphModule, fx.GraphModule]:
        """``(prefix, rest)`` of a gated supernet, running the active configuration."""
        return self._halves

    def fixed_groups(self) -> frozenset[str]:
        """Channel groups used before the gate: they stay full width, since every width shares that part."""
        if self.gate_point is None:
            return frozenset()
        layers = set(prefix_layers(self.net, self.gate_point))
        return frozenset(g for name in layers if name in self.channels for g in self.channels[name].groups())

    def slim_modules(self) -> Iterable[tuple[str, nn.Module]]:
        return ((n, m) for n, m in self.net.named_modules() if isinstance(m, _SLIM))

    def set_config(self, config: SubnetConfig) -> None:
        """Make ``config`` the active sub-net; load its recalibrated BN statistics if there are any."""
        self.space.validate(config)
        modules = dict(self.net.named_modules())
        device = next(self.net.parameters()).device
        for name, layer in self.channels.items():
            module = modules[name]
            module.take_out = take(layer.rows, config, device=device)
            module.take_in = take(layer.cols, config, layer.per_channel, device)
        self.config = config
        stats = self.bn_stats.get(config.key())
        if stats:
            for name, (mean, var) in stats.items():
                bn = modules[name]
                which = bn.take_out
                if isinstance(which, torch.Tensor):
                    bn.running_mean.index_copy_(0, which, mean)
                    bn.running_var.index_copy_(0, which, var)
                else:
                    bn.running_mean[: mean.numel()].copy_(mean)
                    bn.running_var[: var.numel()].copy_(var)

    @torch.no_grad()
    def recalibrate_bn(self, config: SubnetConfig, batches: Iterable[torch.Tensor]) -> None:
        """US-Nets post-statistics: recompute BN running statistics of ``config`` on training batches, keep them."""
        self.bn_stats.pop(config.key(), None)
        self.set_config(config)
        was_training = self.training
        bns = [m for _, m in self.slim_modules() if isinstance(m, SlimBatchNorm2d)]
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average over all batches
        self.train()
        for x in batches:
            self(x)
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        self.train(was_training)
        self.bn_stats[config.key()] = self._current_bn_stats()

    def _current_bn_stats(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {name: (narrow(m.running_mean, 0, m.take_out).clone(), narrow(m.running_var, 0, m.take_out).clone())
                for name, m in self.slim_modules() if isinstance(m, SlimBatchNorm2d)}

    @torch.no_grad()
    def layer_shapes(self, config: SubnetConfig) -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
        """Input and output shape (batch 1) of every slimmable layer when running ``config``."""
        previous = self.config
        self.set_config(config)
        shapes, hooks = {}, []
        for name, module in self.slim_modules():
            hooks.append(module.register_forward_hook(
                lambda m, args, out, name=name: shapes.__setitem__(name, (tuple(args[0].shape), tuple(out.shape)))))
        was_training = self.training
        self.eval()
        try:
            self(torch.zeros(1, *self.input_shape, device=next(self.parameters()).device))
        finally:
            for hook in hooks:
                hook.remove()
            self.train(was_training)
            self.set_config(previous)
        return shapes

    @torch.no_grad()
    def extract(self, config: SubnetConfig) -> nn.Module:
        """``config`` as a static model of ordinary Conv2d / BatchNorm2d / Linear layers with copied weights.

        Its outputs equal the supernet's at ``config`` (eval mode, with that configuration's BN statistics);
        a gate is not part of it (see :meth:`halves`).
        """
        previous = self.config
        self.set_config(config)
        static = copy.deepcopy(self.net)
        self.set_config(previous)
        for name, module in list(static.named_modules()):
            if isinstance(module, _SLIM):
                parent_name, _, child = name.rpartition(".")
                parent = static.get_submodule(parent_name) if parent_name else static
                setattr(parent, child, module.sliced())
        static.recompile()
        return static.eval().requires_grad_(False)

    @torch.no_grad()
    def permute_channels(self, orders: dict[str, torch.Tensor]) -> None:
        """Reorder the channels of groups (``orders[group]``: a permutation of its channels, first = kept longest).

        Every coupled layer is updated consistently — producers' outputs, batch norms, depthwise convs and the
        inputs of consumers — so the full network computes the same function. A group feeding a grouped conv
        must be reordered in whole blocks of its granularity (as the noise ranking does). Stored per-config BN
        statistics no longer apply and are dropped.
        """
        def take_(tensor: torch.Tensor | None, order: torch.Tensor | None, dim: int = 0) -> None:
            if tensor is not None and order is not None:
                tensor.copy_(tensor.index_select(dim, order.to(tensor.device)))

        for name, module in self.slim_modules():
            layer = self.channels.get(name)
            if layer is None:  # kept at full width
                continue
            rows = permutation(layer.rows, orders)
            take_(module.weight, rows)
            take_(module.bias, rows)
            if isinstance(module, SlimBatchNorm2d):
                take_(module.running_mean, rows)
                take_(module.running_var, rows)
            elif not (isinstance(module, SlimConv2d) and module.channelwise):
                take_(module.weight, permutation(layer.cols, orders, layer.per_channel), 1)
        self.bn_stats.clear()
