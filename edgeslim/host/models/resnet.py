"""Ordinary ResNet definitions (edgeslim makes them slimmable with ``slimify``)."""

from __future__ import annotations

from torch import nn


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """The identity, or a 1x1 conv-bn where the block changes the shape."""
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """Two 3x3 conv-bn layers with a residual add; a 1x1 conv-bn shortcut when the shape changes."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1, 3x3 (strided, ``groups`` groups of ``group_width``), 1x1 to 4x the planes; residual add (torchvision's
    ResNet-50 / ResNeXt block)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, groups: int = 1, group_width: int = 64):
        super().__init__()
        width, cout = planes * group_width // 64 * groups, planes * self.expansion
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = _shortcut(cin, cout, stride)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


class ResNet(nn.Module):
    """A ResNet of basic or bottleneck blocks. ``small_input`` (≤ 64 px) uses a 3x3 stride-1 stem without
    max-pooling."""

    def __init__(self, stages: list[tuple[int, int, int]], stem: int, in_channels: int, num_classes: int,
                 small_input: bool, block=BasicBlock, **block_args):
        super().__init__()
        if small_input:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem),
                                      nn.ReLU())
        else:
            self.stem = nn.Sequential(nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        blocks, cin = [], stem
        for planes, depth, stride in stages:
            for i in range(depth):
                blocks.append(block(cin, planes, stride if i == 0 else 1, **block_args))
                cin = planes * getattr(block, "expansion", 1)
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


def resnet50(in_channels: int, num_classes: int, input_size: int) -> ResNet:
    """ResNet-50 (bottleneck blocks); CIFAR-style stem for inputs of 64 px or less."""
    return ResNet([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 64, in_channels, num_classes,
                  small_input=input_size <= 64, block=Bottleneck)


def resnext50_32x4d(in_channels: int, num_classes: int, input_size: int) -> ResNet:
    """ResNeXt-50 32x4d (Xie et al.): ResNet-50 whose 3x3 convs have 32 groups of 4 x planes/64 channels."""
    return ResNet([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)], 64, in_channels, num_classes,
                  small_input=input_size <= 64, block=Bottleneck, groups=32, group_width=4)
