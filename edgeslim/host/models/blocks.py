"""Building blocks shared by the built-in mobile models: conv-BN-activation, squeeze-and-excitation, the
inverted-residual (MBConv) block, and the channel rounding of the MobileNet papers."""

from __future__ import annotations

from torch import nn


def make_divisible(value: float, divisor: int = 8) -> int:
    """``value`` rounded to a multiple of ``divisor``, never more than 10 % below it (MobileNet's rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(cin: int, cout: int, kernel: int, stride: int, act: type[nn.Module] | None,
                groups: int = 1) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class SqueezeExcitation(nn.Module):
    """Hu et al.'s squeeze-and-excitation: the feature map times a per-channel gate computed from its average."""

    def __init__(self, channels: int, squeeze: int, act: type[nn.Module], gate: type[nn.Module]):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class InvertedResidual(nn.Module):
    """1x1 expand (unless ``expanded == cin``), k×k depthwise, optional squeeze-and-excitation, 1x1 linear
    projection; a residual add when the shape is kept (MobileNetV3's bneck, EfficientNet's MBConv)."""

    def __init__(self, cin: int, expanded: int, cout: int, kernel: int, stride: int, act: type[nn.Module],
                 se: SqueezeExcitation | None = None):
        super().__init__()
        layers = [conv_bn_act(cin, expanded, 1, 1, act)] if expanded != cin else []
        layers.append(conv_bn_act(expanded, expanded, kernel, stride, act, groups=expanded))
        if se is not None:
            layers.append(se)
        layers.append(conv_bn_act(expanded, cout, 1, 1, None))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)
