"""An ordinary MobileNetV2 (edgeslim makes it slimmable with ``slimify``)."""

from __future__ import annotations

from torch import nn


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):
    """1x1 expand, 3x3 depthwise, 1x1 linear projection; residual add when the shape is kept."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [_conv_bn_relu(cin, hidden, 1, 1)] if expand != 1 else []
        layers += [_conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


# (expansion, channels, repeats, stride) — the ImageNet table of Sandler et al.
_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
             (6, 320, 1, 1)]


class MobileNetV2(nn.Module):
    """MobileNetV2; for small inputs (≤ 64 px) the stem and first two stages keep stride 1, as CIFAR ports do."""

    def __init__(self, in_channels: int, num_classes: int, input_size: int, width: float = 1.0):
        super().__init__()
        small = input_size <= 64
        stem = int(32 * width)
        self.stem = _conv_bn_relu(in_channels, stem, 3, 1 if small else 2)
        blocks, cin = [], stem
        for i, (expand, channels, repeats, stride) in enumerate(_SETTINGS):
            cout = max(8, int(channels * width))
            if small and i < 2:
                stride = 1
            for r in range(repeats):
                blocks.append(InvertedResidual(cin, cout, stride if r == 0 else 1, expand))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        last = max(1280, int(1280 * width)) if width > 1 else 1280
        self.head = _conv_bn_relu(cin, last, 1, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.classifier(x.flatten(1))


def mobilenetv2(in_channels: int, num_classes: int, input_size: int) -> MobileNetV2:
    return MobileNetV2(in_channels, num_classes, input_size)
