"""GhostNet (Han et al., 2020), as timm's ``ghostnet_100`` defines it (edgeslim makes it slimmable: a ghost
module's output is the concat of its primary and cheap features, so its consumers take segments)."""

from __future__ import annotations

import math

import torch
from torch import nn

from edgeslim.host.models.blocks import SqueezeExcitation, conv_bn_act, make_divisible

# (kernel, expanded, out, squeeze-and-excitation ratio, stride) per ghost bottleneck, after the 16-channel stem
_BLOCKS = [(3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 0.25, 2), (5, 120, 40, 0.25, 1),
           (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 0.25, 1),
           (3, 672, 112, 0.25, 1), (5, 672, 160, 0.25, 2), (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1),
           (5, 960, 160, 0, 1), (5, 960, 160, 0.25, 1)]


class GhostModule(nn.Module):
    """A 1x1 conv to half the outputs, a cheap 3x3 depthwise conv of those for the other half, concatenated."""

    def __init__(self, cin: int, cout: int, relu: bool):
        super().__init__()
        self.cout = cout
        primary = math.ceil(cout / 2)
        self.primary = conv_bn_act(cin, primary, 1, 1, nn.ReLU if relu else None)
        self.cheap = conv_bn_act(primary, primary, 3, 1, nn.ReLU if relu else None, groups=primary)

    def forward(self, x):
        x1 = self.primary(x)
        return torch.cat([x1, self.cheap(x1)], 1)[:, : self.cout]


class GhostBottleneck(nn.Module):
    """Ghost module (ReLU), a depthwise conv where it strides, optional squeeze-and-excitation, ghost module
    (linear); the shortcut is a depthwise + 1x1 conv where the shape changes."""

    def __init__(self, cin: int, mid: int, cout: int, kernel: int, stride: int, se_ratio: float):
        super().__init__()
        layers = [GhostModule(cin, mid, relu=True)]
        if stride > 1:
            layers.append(conv_bn_act(mid, mid, kernel, stride, None, groups=mid))
        if se_ratio:
            layers.append(SqueezeExcitation(mid, make_divisible(mid * se_ratio, 4), nn.ReLU, nn.Hardsigmoid))
        layers.append(GhostModule(mid, cout, relu=False))
        self.body = nn.Sequential(*layers)
        self.shortcut = None if cin == cout and stride == 1 else nn.Sequential(
            conv_bn_act(cin, cin, kernel, stride, None, groups=cin), conv_bn_act(cin, cout, 1, 1, None))

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class GhostNet(nn.Module):
    """GhostNet 1.0x; for small inputs (≤ 64 px) the stem and the first two stride-2 blocks keep stride 1."""

    def __init__(self, in_channels: int, num_classes: int, input_size: int):
        super().__init__()
        small = input_size <= 64
        self.stem = conv_bn_act(in_channels, 16, 3, 1 if small else 2, nn.ReLU)
        layers, cin, kept = [], 16, 0
        for kernel, expanded, cout, se_ratio, stride in _BLOCKS:
            if small and stride == 2 and kept < 2:
                stride, kept = 1, kept + 1
            layers.append(GhostBottleneck(cin, make_divisible(expanded, 4), make_divisible(cout, 4), kernel, stride,
                                          se_ratio))
            cin = make_divisible(cout, 4)
        self.blocks = nn.Sequential(*layers)
        self.head = conv_bn_act(cin, 960, 1, 1, nn.ReLU)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv_head = nn.Conv2d(960, 1280, 1)
        self.act = nn.ReLU()
        self.classifier = nn.Linear(1280, num_classes)

    def forward(self, x):
        x = self.act(self.conv_head(self.pool(self.head(self.blocks(self.stem(x))))))
        return self.classifier(x.flatten(1))


def ghostnet(in_channels: int, num_classes: int, input_size: int) -> GhostNet:
    return GhostNet(in_channels, num_classes, input_size)
