"""slimify past one prefix per tensor: concats, grouped convs, what cannot nest, library layers, custom rules."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from edgeslim.errors import EdgeslimError
from edgeslim.host.nn import count_cost, slimify
from edgeslim.host.nn.layers import as_base, register_layer
from edgeslim.subnets import SubnetConfig


class Concat(nn.Module):
    """Two convs concatenated (DenseNet / Inception style), a consumer conv, pool, linear."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c, self.fc = nn.Conv2d(1, 4, 1), nn.Conv2d(1, 4, 1), nn.Conv2d(8, 6, 3), nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.c(torch.cat([self.a(x), self.b(x)], 1)).mean((2, 3)))


def test_a_concat_consumer_takes_the_first_channels_of_each_segment():
    torch.manual_seed(0)
    supernet = slimify(Concat(), (1, 5, 5)).eval()
    assert [(s.group, s.offset, s.size) for s in supernet.channels["c"].cols] == [("a", 0, 4), ("b", 4, 4)]
    config = SubnetConfig("narrow", {"a": 2, "b": 3, "c": 6})
    supernet.set_config(config)
    x = torch.randn(2, 1, 5, 5)
    net = dict(supernet.net.named_modules())
    with torch.no_grad():
        joined = torch.cat([F.conv2d(x, net["a"].weight[:2], net["a"].bias[:2]),
                            F.conv2d(x, net["b"].weight[:3], net["b"].bias[:3])], 1)
        expected = F.linear(F.conv2d(joined, net["c"].weight[:, [0, 1, 4, 5, 6]], net["c"].bias).mean((2, 3)),
                            net["fc"].weight, net["fc"].bias)
        torch.testing.assert_close(supernet(x), expected)
        static = supernet.extract(config)
        assert static.c.in_channels == 5
        torch.testing.assert_close(static(x), expected)
    assert count_cost(supernet, config).macs == 2 * 25 + 3 * 25 + 6 * 5 * 9 * 9 + 6 * 2


def test_a_concat_reorders_each_segment_with_its_own_group():
    torch.manual_seed(0)
    supernet = slimify(Concat(), (1, 5, 5)).eval()
    x = torch.randn(2, 1, 5, 5)
    with torch.no_grad():
        before = supernet(x)
        supernet.permute_channels({"a": torch.tensor([3, 1, 0, 2]), "b": torch.tensor([1, 0, 3, 2])})
        torch.testing.assert_close(supernet(x), before)  # the same function, channels reordered


class Grouped(nn.Module):
    """A RegNet/ResNeXt-style bottleneck: 1x1 conv, 3x3 conv of 4 groups of 4, 1x1 conv, residual add."""

    def __init__(self):
        super().__init__()
        self.stem, self.a = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 1)
        self.g, self.c, self.fc = nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.Conv2d(16, 8, 1), nn.Linear(8, 3)

    def forward(self, x):
        x = self.stem(x)
        return self.fc((x + self.c(torch.relu(self.g(torch.relu(self.a(x)))))).mean((2, 3)))


def test_a_grouped_conv_slims_whole_groups_and_extracts_as_a_grouped_conv():
    torch.manual_seed(0)
    supernet = slimify(Grouped(), (1, 6, 6)).eval()
    group = next(g for g in supernet.space.groups if g.name == "a")
    assert group.granularity == 4 and group.choices() == [4, 8, 12, 16]  # whole groups of 4 channels
    config = supernet.space.uniform(0.5)
    supernet.set_config(config)
    static = supernet.extract(config)
    assert (static.g.in_channels, static.g.out_channels, static.g.groups) == (8, 8, 2)
    x = torch.randn(2, 1, 6, 6)
    with torch.no_grad():
        torch.testing.assert_close(static(x), supernet(x))
    grouped_macs = 8 * 4 * 9 * 36  # 8 outputs x 4 inputs per group x 3x3 x 36 pixels
    others = 4 * 9 * 36 + 8 * 4 * 36 + 4 * 8 * 36 + 4 * 3
    assert count_cost(supernet, config).macs == grouped_macs + others


class Shuffle(nn.Module):
    """ShuffleNetV2's channel shuffle between two convs: its channels cannot be nested."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c, self.fc = nn.Conv2d(1, 8, 1), nn.Conv2d(8, 8, 1), nn.Conv2d(8, 8, 1), nn.Linear(8, 3)

    def forward(self, x):
        x = self.a(x)
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        return self.fc(self.c(self.b(x)).mean((2, 3)))


def test_what_cannot_be_nested_stays_full_width_said_in_one_line(capsys):
    torch.manual_seed(0)
    supernet = slimify(Shuffle(), (1, 4, 4)).eval()
    assert {g.name for g in supernet.space.groups} == {"b", "c"}  # conv a feeds the shuffle: full width
    assert "view" in supernet.full_width and "transpose" in supernet.full_width
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Shuffle keeps some channels at full width: node 'view'" in err
    config = supernet.space.uniform(0.5)
    supernet.set_config(config)
    x = torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(supernet.extract(config)(x), supernet(x))

    class Unknown(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.norm, self.b = nn.Conv2d(1, 8, 1), nn.GroupNorm(2, 8), nn.Conv2d(8, 4, 1)

        def forward(self, x):
            return self.b(self.norm(self.a(x))).mean((2, 3))

    with pytest.raises(EdgeslimError, match="Unknown has no slimmable channels"):
        slimify(Unknown(), (1, 4, 4))


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's fused batch norm + activation (a BatchNorm2d subclass with its own forward)."""

    def __init__(self, channels):
        super().__init__(channels)
        self.drop, self.act = nn.Identity(), nn.ReLU()

    def forward(self, x):
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, self.training, 0.1,
                         self.eps)
        return self.act(self.drop(x))


class Conv2dSame(nn.Conv2d):
    """timm's TensorFlow-"same" padded conv (it pads in forward from the input size, which fx cannot trace)."""

    def forward(self, x):
        pads = [max((math.ceil(n / s) - 1) * s + k - n, 0)
                for n, s, k in zip(x.shape[-2:], self.stride, self.kernel_size)]
        x = F.pad(x, (pads[1] // 2, pads[1] - pads[1] // 2, pads[0] // 2, pads[0] - pads[0] // 2))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class StochasticDepth(nn.Module):
    """torchvision's stochastic depth (a Python branch on ``self.training`` that fx would bake in)."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training:
            return x
        keep = x.new_empty([x.shape[0], 1, 1, 1]).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


BatchNormAct2d.__module__ = "timm.layers.norm_act"
Conv2dSame.__module__ = "timm.layers.conv2d_same"
StochasticDepth.__module__ = "torchvision.ops.stochastic_depth"


class LibraryLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = Conv2dSame(1, 8, 3, stride=2)
        self.bn = BatchNormAct2d(8)
        self.block = nn.Conv2d(8, 8, 3, padding=1)
        self.drop = StochasticDepth(0.5, "row")
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.fc((x + self.drop(self.block(x))).mean((2, 3)))


def test_timm_and_torchvision_layers_are_treated_by_what_they_compute():
    torch.manual_seed(0)
    original = LibraryLayers().eval()
    supernet = slimify(LibraryLayers(), (1, 7, 7))
    supernet.net.load_state_dict(original.state_dict())  # the same state-dict keys
    assert not supernet.full_width and {g.name for g in supernet.space.groups} == {"conv"}
    x = torch.randn(3, 1, 7, 7)
    supernet.eval().set_config(supernet.space.largest())
    with torch.no_grad():
        assert torch.equal(supernet(x), original(x))
        config = supernet.space.uniform(0.5)
        supernet.recalibrate_bn(config, [torch.randn(8, 1, 7, 7)])
        supernet.eval().set_config(config)
        torch.testing.assert_close(supernet.extract(config)(x), supernet(x))
    supernet.train()
    assert not torch.equal(supernet(x), supernet(x))  # stochastic depth still drops branches while training


def test_a_registered_layer_rule_makes_a_custom_layer_slimmable():
    class NormAct(nn.BatchNorm2d):
        def forward(self, x):
            return torch.relu(super().forward(x))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.norm, self.fc = nn.Conv2d(1, 8, 3), NormAct(8), nn.Linear(8, 2)

        def forward(self, x):
            return self.fc(self.norm(self.conv(x)).mean((2, 3)))

    with pytest.raises(EdgeslimError, match="cannot trace Net"):  # fx traces into its forward and fails
        slimify(Net(), (1, 5, 5))
    register_layer(NormAct, lambda m: [as_base(m, nn.BatchNorm2d), nn.ReLU()])
    supernet = slimify(Net(), (1, 5, 5))
    assert type(supernet.net.norm).__name__ == "SlimBatchNorm2d" and isinstance(supernet.net.norm_1, nn.ReLU)
    assert [g.name for g in supernet.space.groups] == ["conv"] and not supernet.full_width
    with pytest.raises(EdgeslimError, match="exactly one may hold them"):
        register_layer(NormAct, lambda m: [as_base(m, nn.BatchNorm2d), nn.Conv2d(8, 8, 1)])
        slimify(Net(), (1, 5, 5))
