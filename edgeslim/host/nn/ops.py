"""Dynamic ops: each holds one full weight and runs on the channels the active sub-net uses (OFA style).

The supernet sets ``take_out`` / ``take_in`` from the sub-net configuration (see :mod:`.channels`): ``None``
for all channels, ``n`` for the first n, or an index tensor where a concat makes the active channels segments.
Channel-wise layers (batch norm, depthwise and grouped convs) use ``take_out`` for both. Parameter names equal
torch's own, so a slimmable model's state dict is the ordinary model's state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from edgeslim.host.nn.channels import Take, narrow


def _count(which: Take, full: int) -> int:
    return full if which is None else which if isinstance(which, int) else len(which)


class SlimConv2d(nn.Conv2d):
    """Conv2d on the active output and input channels.

    A depthwise or grouped conv with as many outputs as inputs slims whole groups: it keeps the groups of its
    active channels (so a sub-net's grouped conv is an ordinary grouped conv with fewer groups).
    """

    take_out: Take = None
    take_in: Take = None

    @property
    def channelwise(self) -> bool:
        return self.groups > 1 and self.in_channels == self.out_channels

    @property
    def depthwise(self) -> bool:
        return self.channelwise and self.groups == self.in_channels

    def _active(self) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        if self.channelwise:
            weight = narrow(self.weight, 0, self.take_out)
            groups = weight.shape[0] // (self.in_channels // self.groups)
        else:
            weight, groups = narrow(narrow(self.weight, 0, self.take_out), 1, self.take_in), 1
        bias = narrow(self.bias, 0, self.take_out) if self.bias is not None else None
        return weight, bias, groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias, groups = self._active()
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def sliced(self) -> nn.Conv2d:
        """An ordinary Conv2d holding copies of the active channels."""
        weight, bias, groups = self._active()
        cin = weight.shape[1] * groups
        conv = nn.Conv2d(cin, weight.shape[0], self.kernel_size, self.stride, self.padding, self.dilation, groups,
                         bias is not None)
        conv.weight.data.copy_(weight)
        if bias is not None:
            conv.bias.data.copy_(bias)
        return conv


class SlimLinear(nn.Linear):
    """Linear on the active outputs and inputs.

    A flattened NCHW feature map keeps channel-major order, so channel c is features c*H*W .. (c+1)*H*W.
    """

    take_out: Take = None
    take_in: Take = None

    def _active(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        weight = narrow(narrow(self.weight, 0, self.take_out), 1, self.take_in)
        return weight, narrow(self.bias, 0, self.take_out) if self.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, *self._active())

    def sliced(self) -> nn.Linear:
        weight, bias = self._active()
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias is not None)
        linear.weight.data.copy_(weight)
        if bias is not None:
            linear.bias.data.copy_(bias)
        return linear


class SlimBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d on the active channels of shared affine parameters and running statistics.

    The running statistics are only right for the configuration they were recalibrated on (US-Nets
    post-statistics); the supernet keeps one set per shipped configuration and loads it on ``set_config``.
    ``momentum=None`` gives the cumulative average used for recalibration.
    """

    take_out: Take = None
    take_in: Take = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        which = self.take_out
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch_stats = self.training or not self.track_running_stats
        mean = narrow(self.running_mean, 0, which) if self.track_running_stats else None
        var = narrow(self.running_var, 0, which) if self.track_running_stats else None
        out = F.batch_norm(x, mean, var, narrow(self.weight, 0, which) if self.affine else None,
                           narrow(self.bias, 0, which) if self.affine else None, use_batch_stats, factor, self.eps)
        if isinstance(which, torch.Tensor) and self.training and self.track_running_stats:
            self.running_mean.index_copy_(0, which, mean)  # a gather is a copy: write the update back
            self.running_var.index_copy_(0, which, var)
        return out

    def sliced(self) -> nn.BatchNorm2d:
        which = self.take_out
        bn = nn.BatchNorm2d(_count(which, self.num_features), self.eps, affine=self.affine,
                            track_running_stats=self.track_running_stats)
        if self.affine:
            bn.weight.data.copy_(narrow(self.weight, 0, which))
            bn.bias.data.copy_(narrow(self.bias, 0, which))
        if self.track_running_stats:
            bn.running_mean.copy_(narrow(self.running_mean, 0, which))
            bn.running_var.copy_(narrow(self.running_var, 0, which))
        return bn


SLIM_TYPES = {nn.Conv2d: SlimConv2d, nn.Linear: SlimLinear, nn.BatchNorm2d: SlimBatchNorm2d}


def to_slim(module: nn.Module) -> nn.Module:
    """The slimmable twin of an ordinary Conv2d / Linear / BatchNorm2d, sharing its parameters and buffers."""
    slim_cls = SLIM_TYPES[type(module)]
    slim = slim_cls.__new__(slim_cls)
    slim.__dict__ = module.__dict__.copy()
    return slim
