"""slimify on ordinary definitions: channel groups, extraction, cost, the built-in models."""

import pytest
import torch
from torch import nn

from edgeslim.host.models.efficientnet import efficientnet_b0, efficientnet_lite0
from edgeslim.host.models.mobilenetv2 import MobileNetV2
from edgeslim.host.models.mobilenetv3 import mobilenetv3_large, mobilenetv3_small
from edgeslim.host.models.resnet import resnet18, resnet20, resnet50, resnext50_32x4d
from edgeslim.host.models.shufflenet import shufflenetv2
from edgeslim.host.models.densenet import densenet121
from edgeslim.host.models.ghostnet import ghostnet
from edgeslim.host.models.regnet import regnetx_200mf, regnetx_400mf, regnety_200mf, regnety_400mf
from edgeslim.host.nn import SlimConv2d, count_cost, slimify
from edgeslim.subnets import SubnetConfig


class TinyResidual(nn.Module):
    """conv(1->8)-bn-relu, a residual block on 8 channels, then conv(8->16), pool, linear(16->3)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.block = nn.Conv2d(8, 8, 3, padding=1)
        self.expand = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16, 3)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = x + self.block(x)
        x = nn.functional.adaptive_avg_pool2d(self.expand(x), 1)
        return self.fc(torch.flatten(x, 1))


def _random_config(supernet, seed):
    generator = torch.Generator().manual_seed(seed)
    channels = {}
    for g in supernet.space.groups:
        choices = g.choices()
        channels[g.name] = choices[int(torch.randint(len(choices), (1,), generator=generator))]
    return SubnetConfig("random", channels)


def test_residual_add_couples_channels_into_one_group():
    supernet = slimify(TinyResidual(), (1, 6, 6), granularity=2)
    groups = {g.name: g for g in supernet.space.groups}
    assert set(groups) == {"stem", "expand"}
    assert groups["stem"].members == ("stem", "block")
    assert groups["stem"].channels == 8 and groups["stem"].granularity == 2
    assert [s.group for s in supernet.channels["fc"].rows] == [None]  # the class logits stay full


def test_hand_counted_macs_and_params():
    supernet = slimify(TinyResidual(), (1, 6, 6), granularity=2)
    full = count_cost(supernet, supernet.space.largest())
    # stem 8*1*9*36, block 8*8*9*36, expand 16*8*36, fc 16*3
    assert full.macs == 8 * 9 * 36 + 8 * 8 * 9 * 36 + 16 * 8 * 36 + 16 * 3
    # stem 72, bn 16, block 576+8, expand 128+16, fc 48+3
    assert full.params == 72 + 16 + 584 + 144 + 51
    half = count_cost(supernet, SubnetConfig("h", {"stem": 4, "expand": 8}))
    assert half.macs == 4 * 9 * 36 + 4 * 4 * 9 * 36 + 8 * 4 * 36 + 8 * 3
    assert half.params == 36 + 8 + (144 + 4) + (32 + 8) + (24 + 3)


@pytest.mark.parametrize("factory, shape, groups", [
    (lambda: resnet18(3, 10, 32), (3, 32, 32), 12),
    (lambda: MobileNetV2(3, 10, 32, width=0.5), (3, 32, 32), 25),
    (lambda: resnet20(1, 10, 8), (1, 8, 8), 12),
    (lambda: mobilenetv3_small(3, 10, 32), (3, 32, 32), 26),
    (lambda: efficientnet_b0(1, 10, 8), (1, 8, 8), 40),
    (lambda: regnety_200mf(1, 10, 8), (1, 8, 8), 31),
    (lambda: ghostnet(1, 10, 8), (1, 8, 8), 31),
    (lambda: densenet121(1, 10, 8), (1, 8, 8), 120),
    (lambda: shufflenetv2(1, 10, 8), (1, 8, 8), 18),
])
def test_extracted_subnet_equals_the_supernet(factory, shape, groups):
    torch.manual_seed(0)
    supernet = slimify(factory(), shape)
    assert len(supernet.space.groups) == groups
    x = torch.randn(4, *shape)
    for seed in range(2):
        config = _random_config(supernet, seed)
        supernet.recalibrate_bn(config, [torch.randn(8, *shape) for _ in range(2)])
        supernet.eval()
        supernet.set_config(config)
        expected = supernet(x)
        static = supernet.extract(config)
        assert not any(isinstance(m, SlimConv2d) for m in static.modules())
        assert sum(p.numel() for p in static.parameters()) == count_cost(supernet, config).params
        torch.testing.assert_close(static(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("factory, params", [
    (mobilenetv3_small, 2_542_856), (mobilenetv3_large, 5_483_032),   # torchvision mobilenet_v3_small / _large
    (efficientnet_b0, 5_288_548), (efficientnet_lite0, 4_652_008),     # torchvision efficientnet_b0, timm _lite0
    (regnetx_400mf, 5_495_976), (regnety_400mf, 4_344_144),            # torchvision regnet_x/y_400mf
    (regnetx_200mf, 2_684_792), (regnety_200mf, 3_162_996),            # timm regnetx/y_002 (2.7 M / 3.2 M)
    (ghostnet, 5_182_508),                                             # timm ghostnet_100 (5.18 M)
    (resnet50, 25_557_032), (resnext50_32x4d, 25_028_904),             # torchvision
    (densenet121, 7_978_856), (shufflenetv2, 2_278_604),               # torchvision (shufflenet_v2_x1_0)
])
def test_built_in_models_match_the_reference_parameter_counts_and_slim_exactly(factory, params):
    assert sum(p.numel() for p in factory(3, 1000, 224).parameters()) == params
    torch.manual_seed(0)
    original = factory(1, 10, 8).eval()
    supernet = slimify(factory(1, 10, 8), (1, 8, 8))
    supernet.net.load_state_dict(original.state_dict())
    supernet.eval().set_config(supernet.space.largest())
    x = torch.randn(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(supernet(x), original(x))  # full width is the original network


def test_squeeze_excitation_gate_joins_its_feature_map_group_and_squeeze_is_its_own():
    supernet = slimify(mobilenetv3_small(3, 10, 32), (3, 32, 32))
    se = "blocks.0.body.1"  # the first bneck: depthwise, then squeeze-and-excitation on its 16 channels
    groups = {m: g.name for g in supernet.space.groups for m in g.members}
    assert groups[f"{se}.fc2"] == groups["stem.0"]  # gate × map: one group (the stem's 16 channels)
    assert groups[f"{se}.fc1"] == f"{se}.fc1"  # the squeeze width: its own group
    half = supernet.space.uniform(0.5)
    assert half.channels[groups["stem.0"]] == 8 and half.channels[f"{se}.fc1"] == 4


def test_mobilenet_depthwise_conv_follows_its_expansion_group():
    supernet = slimify(MobileNetV2(3, 10, 32, width=0.5), (3, 32, 32))
    dw = dict(supernet.net.named_modules())["blocks.1.body.1.0"]
    assert dw.depthwise and supernet.channels["blocks.1.body.1.0"].rows == supernet.channels["blocks.1.body.1.0"].cols
    assert "blocks.1.body.1.0" not in {m for g in supernet.space.groups for m in g.members}
    assert "blocks.1.body.0.0" in {m for g in supernet.space.groups for m in g.members}


def test_mobilenetv2_for_small_inputs_downsamples_like_the_cifar_port():
    net = MobileNetV2(3, 10, 32)  # stride 1 in the stem and the first two stages, then 32 → 16 → 8 → 4
    assert net.blocks(net.stem(torch.zeros(1, 3, 32, 32))).shape[-2:] == (4, 4)
    assert MobileNetV2(3, 10, 224).blocks(torch.zeros(1, 32, 112, 112)).shape[-2:] == (7, 7)


def test_recalibrated_bn_statistics_are_kept_per_configuration():
    torch.manual_seed(0)
    supernet = slimify(resnet20(1, 10, 8), (1, 8, 8))
    small, full = supernet.space.uniform(0.25), supernet.space.largest()
    supernet.recalibrate_bn(small, [torch.randn(16, 1, 8, 8)])
    supernet.recalibrate_bn(full, [torch.randn(16, 1, 8, 8) * 3 + 1])
    stats_small = supernet.bn_stats[small.key()]["stem.1"][0].clone()
    supernet.set_config(full)
    supernet.set_config(small)
    bn = dict(supernet.net.named_modules())["stem.1"]
    torch.testing.assert_close(bn.running_mean[:4], stats_small)
    assert not torch.allclose(supernet.bn_stats[full.key()]["stem.1"][0][:4], stats_small)
