"""A tiny model with every construct slimify nests: concat, grouped conv, squeeze-and-excitation, residual add."""

import torch
from torch import nn


def reach(in_channels: int, num_classes: int, input_size: int) -> nn.Module:
    return Reach(in_channels, num_classes)


class Reach(nn.Module):
    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.left = nn.Sequential(nn.Conv2d(16, 8, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.right = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16))
        self.grouped = nn.Sequential(nn.Conv2d(24, 24, 3, padding=1, groups=6, bias=False), nn.BatchNorm2d(24),
                                     nn.ReLU())
        self.squeeze, self.excite = nn.Conv2d(24, 8, 1), nn.Conv2d(8, 24, 1)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.cat([self.left(x), self.right(x)], 1)
        y = self.grouped(x)
        y = y * torch.sigmoid(self.excite(torch.relu(self.squeeze(y.mean((2, 3), keepdim=True)))))
        return self.fc((x + y).mean((2, 3)))
