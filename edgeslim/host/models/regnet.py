"""RegNetX and RegNetY (Radosavovic et al., 2020), as torchvision/pycls define them (edgeslim makes them
slimmable: the 3x3 grouped convs slim whole groups)."""

from __future__ import annotations

import math

import numpy as np
from torch import nn

from edgeslim.host.models.blocks import SqueezeExcitation, conv_bn_act, make_divisible

# name: (depth, w0, wa, wm, group width, squeeze-and-excitation ratio), from the paper's model zoo (pycls)
_DESIGNS = {"x_200mf": (13, 24, 36.44, 2.49, 8, 0.0), "y_200mf": (13, 24, 36.44, 2.49, 8, 0.25),
            "x_400mf": (22, 24, 24.48, 2.54, 16, 0.0), "y_400mf": (16, 48, 27.89, 2.09, 8, 0.25)}


def stages(depth: int, w0: int, wa: float, wm: float, group_width: int) -> list[tuple[int, int, int]]:
    """(width, depth, group width) per stage: the quantized linear parameterization of the paper."""
    continuous = np.arange(depth) * wa + w0
    capacity = np.round(np.log(continuous / w0) / math.log(wm))
    widths = (np.round(w0 * np.power(wm, capacity) / 8) * 8).astype(int).tolist()
    out: list[list[int]] = []
    for w in widths:
        if out and out[-1][0] == w:
            out[-1][1] += 1
        else:
            out.append([w, 1])
    result = []
    for w, d in out:
        g = min(group_width, w)
        result.append((make_divisible(w, g), d, g))
    return result


class ResBottleneck(nn.Module):
    """1x1 conv, 3x3 grouped conv (stride), optional squeeze-and-excitation, 1x1 conv; projected shortcut
    where the shape changes; ReLU after the add."""

    def __init__(self, cin: int, cout: int, stride: int, group_width: int, se_ratio: float):
        super().__init__()
        layers = [conv_bn_act(cin, cout, 1, 1, nn.ReLU),
                  conv_bn_act(cout, cout, 3, stride, nn.ReLU, groups=cout // group_width)]
        if se_ratio:
            layers.append(SqueezeExcitation(cout, int(round(se_ratio * cin)), nn.ReLU, nn.Sigmoid))
        layers.append(conv_bn_act(cout, cout, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.proj = conv_bn_act(cin, cout, 1, stride, None) if cin != cout or stride != 1 else None
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act((self.proj(x) if self.proj is not None else x) + self.body(x))


class RegNet(nn.Module):
    """RegNet; for small inputs (≤ 64 px) the stem and the first stage keep stride 1."""

    def __init__(self, design: str, in_channels: int, num_classes: int, input_size: int):
        super().__init__()
        depth, w0, wa, wm, group_width, se_ratio = _DESIGNS[design]
        small = input_size <= 64
        self.stem = conv_bn_act(in_channels, 32, 3, 1 if small else 2, nn.ReLU)
        layers, cin = [], 32
        for i, (width, count, g) in enumerate(stages(depth, w0, wa, wm, group_width)):
            for j in range(count):
                stride = 2 if j == 0 and not (small and i == 0) else 1
                layers.append(ResBottleneck(cin, width, stride, g, se_ratio))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.blocks(self.stem(x))).flatten(1))


def regnetx_200mf(in_channels: int, num_classes: int, input_size: int) -> RegNet:
    return RegNet("x_200mf", in_channels, num_classes, input_size)


def regnety_200mf(in_channels: int, num_classes: int, input_size: int) -> RegNet:
    return RegNet("y_200mf", in_channels, num_classes, input_size)


def regnetx_400mf(in_channels: int, num_classes: int, input_size: int) -> RegNet:
    return RegNet("x_400mf", in_channels, num_classes, input_size)


def regnety_400mf(in_channels: int, num_classes: int, input_size: int) -> RegNet:
    return RegNet("y_400mf", in_channels, num_classes, input_size)
