"""Ordinary ResNet definitions (edgeslim makes them slimmable with ``slimify``)."""

from __future__ import annotations

from torch import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv-bn layers with a residual add; a 1x1 conv-bn shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """A ResNet of basic blocks. ``small_input`` (≤ 64 px) uses a 3x3 stride-1 stem without max-pooling."""

    def __init__(self, stages: list[tuple[int, int, int]], stem: int, in_channels: int, num_classes: int,
                 small_input: bool):
        super().__init__()
        if small_input:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                                      nn.ReLU())
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], stem
        for cout, depth, stride in stages:
            for i in range(depth):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        return self.fc(x.flatten(1))


def resnet20(in_channels: int, num_classes: int, input_size: int) -> ResNet:
    """He et al.'s CIFAR ResNet-20 (16/32/64 channels, 3x3 blocks per stage)."""
    return ResNet([(16, 3, 1), (32, 3, 2), (64, 3, 2)], 16, in_channels, num_classes, small_input=True)


def resnet18(in_channels: int, num_classes: int, input_size: int) -> ResNet:
    """ResNet-18 (64..512 channels); CIFAR-style stem for inputs of 64 px or less."""
    return ResNet([(64, 2, 1), (128, 2, 2), (256, 2, 2), (512, 2, 2)], 64, in_channels, num_classes,
                  small_input=input_size <= 64)
