"""Dynamic ops: each holds one full weight and runs on its first k channels (OFA style).

Input channels follow the incoming tensor; output channels follow ``active_out`` (set by the supernet from the
sub-net configuration; ``None`` means full width). Parameter names equal torch's own, so a slimmable model's
state dict is the ordinary model's state dict.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SlimConv2d(nn.Conv2d):
    """Conv2d on the first ``active_out`` output and first ``x.shape[1]`` input channels.

    A depthwise conv (groups == channels) keeps one filter per input channel, so it follows its input.
    """

    active_out: int | None = None

    @property
    def depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels == self.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cin = x.shape[1]
        if self.depthwise:
            weight, groups, cout = self.weight[:cin], cin, cin
        else:
            cout = self.active_out or self.out_channels
            weight, groups = self.weight[:cout, :cin], 1
        bias = self.bias[:cout] if self.bias is not None else None
        return F.conv2d(x, weight, bias, self.stride, self.padding, self.dilation, groups)

    def sliced(self, cin: int) -> nn.Conv2d:
        """An ordinary Conv2d holding copies of the active slice."""
        cout = cin if self.depthwise else (self.active_out or self.out_channels)
        conv = nn.Conv2d(cin, cout, self.kernel_size, self.stride, self.padding, self.dilation,
                         cin if self.depthwise else 1, self.bias is not None)
        conv.weight.data.copy_(self.weight[:cout] if self.depthwise else self.weight[:cout, :cin])
        if self.bias is not None:
            conv.bias.data.copy_(self.bias[:cout])
        return conv


class SlimLinear(nn.Linear):
    """Linear on the first ``active_out`` outputs and the first ``x.shape[-1]`` inputs.

    A flattened NCHW feature map keeps channel-major order, so its first k channels are its first k*H*W features.
    """

    active_out: int | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cout = self.active_out or self.out_features
        bias = self.bias[:cout] if self.bias is not None else None
        return F.linear(x, self.weight[:cout, : x.shape[-1]], bias)

    def sliced(self, cin: int) -> nn.Linear:
        cout = self.active_out or self.out_features
        linear = nn.Linear(cin, cout, self.bias is not None)
        linear.weight.data.copy_(self.weight[:cout, :cin])
        if self.bias is not None:
            linear.bias.data.copy_(self.bias[:cout])
        return linear


class SlimBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d on the first ``x.shape[1]`` channels of shared affine parameters and running statistics.

    The running statistics are only right for the configuration they were recalibrated on (US-Nets
    post-statistics); the supernet keeps one set per shipped configuration and loads it on ``set_config``.
    ``momentum=None`` gives the cumulative average used for recalibration.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        factor = 0.0
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch_stats = self.training or not self.track_running_stats
        return F.batch_norm(
            x,
            self.running_mean[:c] if self.track_running_stats else None,
            self.running_var[:c] if self.track_running_stats else None,
            self.weight[:c] if self.affine else None,
            self.bias[:c] if self.affine else None,
            use_batch_stats,
            factor,
            self.eps,
        )

    def sliced(self, cin: int) -> nn.BatchNorm2d:
        bn = nn.BatchNorm2d(cin, self.eps, affine=self.affine, track_running_stats=self.track_running_stats)
        if self.affine:
            bn.weight.data.copy_(self.weight[:cin])
            bn.bias.data.copy_(self.bias[:cin])
        if self.track_running_stats:
            bn.running_mean.copy_(self.running_mean[:cin])
            bn.running_var.copy_(self.running_var[:cin])
        return bn


SLIM_TYPES = {nn.Conv2d: SlimConv2d, nn.Linear: SlimLinear, nn.BatchNorm2d: SlimBatchNorm2d}


def to_slim(module: nn.Module) -> nn.Module:
    """The slimmable twin of an ordinary Conv2d / Linear / BatchNorm2d, sharing its parameters and buffers."""
    slim_cls = SLIM_TYPES[type(module)]
    slim = slim_cls.__new__(slim_cls)
    slim.__dict__ = module.__dict__.copy()
    return slim
