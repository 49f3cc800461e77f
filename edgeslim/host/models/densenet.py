"""DenseNet-121 (Huang et al., 2017), as torchvision defines it (edgeslim makes it slimmable: every layer reads
the concat of all earlier features, so its input is one segment per earlier layer)."""

from __future__ import annotations

import torch
from torch import nn


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv to 4 x growth, BN-ReLU-3x3 conv to ``growth`` new features, of the concat of its inputs."""

    def __init__(self, cin: int, growth: int):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, 4 * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(4 * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(4 * growth, growth, 3, 1, 1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleList):
    def forward(self, x):
        features = [x]
        for layer in self:
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    """DenseNet-BC; for small inputs (≤ 64 px) a 3x3 stride-1 stem without max-pooling."""

    def __init__(self, blocks: tuple[int, ...], growth: int, stem: int, in_channels: int, num_classes: int,
                 input_size: int):
        super().__init__()
        if input_size <= 64:
            layers = [nn.Conv2d(in_channels, stem, 3, 1, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU()]
        else:
            layers = [nn.Conv2d(in_channels, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem), nn.ReLU(),
                      nn.MaxPool2d(3, 2, 1)]
        cin = stem
        for i, depth in enumerate(blocks):
            layers.append(DenseBlock(DenseLayer(cin + j * growth, growth) for j in range(depth)))
            cin += depth * growth
            if i < len(blocks) - 1:  # transition: BN-ReLU-1x1 conv to half, 2x2 average pooling
                layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cin // 2, 1, bias=False), nn.AvgPool2d(2)]
                cin //= 2
        layers += [nn.BatchNorm2d(cin), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def densenet121(in_channels: int, num_classes: int, input_size: int) -> DenseNet:
    return DenseNet((6, 12, 24, 16), 32, 64, in_channels, num_classes, input_size)
