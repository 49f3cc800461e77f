"""ShuffleNetV2 1.0x (Ma et al., 2018), as torchvision defines it. Its channel split and shuffle cannot be nested,
so slimify keeps the block outputs at full width and slims the channels inside each branch."""

from __future__ import annotations

import torch
from torch import nn

from edgeslim.host.models.blocks import conv_bn_act


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleBlock(nn.Module):
    """Split the channels in two (or, striding, use all of them twice), transform one half, concat, shuffle."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride = stride
        self.branch1 = nn.Sequential(conv_bn_act(cin, cin, 3, stride, None, groups=cin),
                                     conv_bn_act(cin, half, 1, 1, nn.ReLU)) if stride > 1 else None
        self.branch2 = nn.Sequential(conv_bn_act(cin if stride > 1 else half, half, 1, 1, nn.ReLU),
                                     conv_bn_act(half, half, 3, stride, None, groups=half),
                                     conv_bn_act(half, half, 1, 1, nn.ReLU))

    def forward(self, x):
        if self.branch1 is None:
            x1, x2 = x.chunk(2, dim=1)
            out = torch.cat([x1, self.branch2(x2)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNetV2; for small inputs (≤ 64 px) the stem keeps stride 1 and has no max-pooling."""

    def __init__(self, repeats: tuple[int, ...], widths: tuple[int, ...], in_channels: int, num_classes: int,
                 input_size: int):
        super().__init__()
        small = input_size <= 64
        stem = [conv_bn_act(in_channels, widths[0], 3, 1 if small else 2, nn.ReLU)]
        self.stem = nn.Sequential(*stem) if small else nn.Sequential(*stem, nn.MaxPool2d(3, 2, 1))
        layers, cin = [], widths[0]
        for depth, cout in zip(repeats, widths[1:]):
            layers += [ShuffleBlock(cin if i == 0 else cout, cout, 2 if i == 0 else 1) for i in range(depth)]
            cin = cout
        self.blocks = nn.Sequential(*layers)
        self.head = conv_bn_act(cin, widths[-1], 1, 1, nn.ReLU)
        self.fc = nn.Linear(widths[-1], num_classes)

    def forward(self, x):
        return self.fc(self.head(self.blocks(self.stem(x))).mean((2, 3)))


def shufflenetv2(in_channels: int, num_classes: int, input_size: int) -> ShuffleNetV2:
    return ShuffleNetV2((4, 8, 4), (24, 116, 232, 464, 1024), in_channels, num_classes, input_size)
