"""MobileNetV3 Small and Large (Howard et al., 2019), as torchvision defines them (edgeslim makes them slimmable)."""

from __future__ import annotations

from torch import nn

from edgeslim.host.models.blocks import InvertedResidual, SqueezeExcitation, conv_bn_act, make_divisible

# (kernel, expanded, out, squeeze-and-excitation, activation, stride) per bneck block, after the 16-channel stem
_LARGE = [(3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
          (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
          (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
          (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
          (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1)]
_SMALL = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
          (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
          (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
          (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]
_ACTS = {"RE": nn.ReLU, "HS": nn.Hardswish}


class MobileNetV3(nn.Module):
    """MobileNetV3; for small inputs (≤ 64 px) the stem and the first two stride-2 blocks keep stride 1."""

    def __init__(self, blocks: list[tuple], last: int, in_channels: int, num_classes: int, input_size: int):
        super().__init__()
        small = input_size <= 64
        self.stem = conv_bn_act(in_channels, 16, 3, 1 if small else 2, nn.Hardswish)
        layers, cin, kept = [], 16, 0
        for kernel, expanded, cout, se, act, stride in blocks:
            if small and stride == 2 and kept < 2:
                stride, kept = 1, kept + 1
            excite = SqueezeExcitation(expanded, make_divisible(expanded // 4), nn.ReLU, nn.Hardsigmoid) if se \
                else None
            layers.append(InvertedResidual(cin, expanded, cout, kernel, stride, _ACTS[act], excite))
            cin = cout
        self.blocks = nn.Sequential(*layers)
        self.head = conv_bn_act(cin, 6 * cin, 1, 1, nn.Hardswish)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * cin, last), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(last, num_classes))

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.classifier(x.flatten(1))


def mobilenetv3_large(in_channels: int, num_classes: int, input_size: int) -> MobileNetV3:
    return MobileNetV3(_LARGE, 1280, in_channels, num_classes, input_size)


def mobilenetv3_small(in_channels: int, num_classes: int, input_size: int) -> MobileNetV3:
    return MobileNetV3(_SMALL, 1024, in_channels, num_classes, input_size)
