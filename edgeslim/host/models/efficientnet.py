"""EfficientNet-B0 (Tan & Le, 2019, as torchvision defines it) and EfficientNet-Lite0 (the mobile variant: no
squeeze-and-excitation, ReLU6), made slimmable by edgeslim. Stochastic depth is left out (identity at inference)."""

from __future__ import annotations

from torch import nn

from edgeslim.host.models.blocks import InvertedResidual, SqueezeExcitation, conv_bn_act

# (expansion, kernel, stride, out channels, repeats) per stage, after the 32-channel stem
_STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]


class EfficientNet(nn.Module):
    """EfficientNet-B0 (``lite=False``) or -Lite0; for small inputs (≤ 64 px) the stem and the first two stride-2
    stages keep stride 1."""

    def __init__(self, in_channels: int, num_classes: int, input_size: int, lite: bool):
        super().__init__()
        act = nn.ReLU6 if lite else nn.SiLU
        small = input_size <= 64
        self.stem = conv_bn_act(in_channels, 32, 3, 1 if small else 2, act)
        layers, cin, kept = [], 32, 0
        for expand, kernel, stride, cout, repeats in _STAGES:
            if small and stride == 2 and kept < 2:
                stride, kept = 1, kept + 1
            for r in range(repeats):
                expanded = cin * expand
                excite = None if lite else SqueezeExcitation(expanded, max(1, cin // 4), nn.SiLU, nn.Sigmoid)
                layers.append(InvertedResidual(cin, expanded, cout, kernel, stride if r == 0 else 1, act, excite))
                cin = cout
        self.blocks = nn.Sequential(*layers)
        self.head = conv_bn_act(cin, 1280, 1, 1, act)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.classifier(x.flatten(1))


def efficientnet_b0(in_channels: int, num_classes: int, input_size: int) -> EfficientNet:
    return EfficientNet(in_channels, num_classes, input_size, lite=False)


def efficientnet_lite0(in_channels: int, num_classes: int, input_size: int) -> EfficientNet:
    return EfficientNet(in_channels, num_classes, input_size, lite=True)
