import json

import pytest

from edgeslim.errors import EdgeslimError
from edgeslim.subnets import ChannelGroup, ChannelSpace, SubnetConfig, group_granularity, load_configs

SPACE = ChannelSpace((ChannelGroup("stem", 16, group_granularity(16, 8), ("stem",)),
                      ChannelGroup("stage2", 64, group_granularity(64, 8), ("a", "b"))))


def test_granularity_is_8_or_a_quarter_of_tiny_groups():
    assert group_granularity(64, 8) == 8
    assert group_granularity(32, 8) == 8
    assert group_granularity(16, 8) == 4
    assert group_granularity(3, 8) == 1


def test_uniform_width_rounds_to_each_groups_step():
    assert SPACE.uniform(0.25).channels == {"stem": 4, "stage2": 16}
    assert SPACE.uniform(0.5).name == "w050"
    assert SPACE.uniform(1.0).channels == {"stem": 16, "stage2": 64}
    assert SPACE.uniform(0.01).channels == {"stem": 4, "stage2": 8}  # never below one step


def test_validate_rejects_bad_configurations_with_the_fix():
    with pytest.raises(EdgeslimError, match="did you mean stage2"):
        SPACE.validate(SubnetConfig("x", {"stem": 8, "stage_2": 16}))
    with pytest.raises(EdgeslimError, match="multiple of 8 between 8 and 64"):
        SPACE.validate(SubnetConfig("x", {"stem": 8, "stage2": 20}))
    with pytest.raises(EdgeslimError, match="misses channel group 'stage2'"):
        SPACE.validate(SubnetConfig("x", {"stem": 8}))
    with pytest.raises(EdgeslimError, match="out of range"):
        SPACE.uniform(1.5)
    with pytest.raises(EdgeslimError, match="'abc' is not a number"):
        SPACE.parse_widths("0.5,abc")


def test_configs_and_spaces_round_trip_through_json(tmp_path):
    config = SubnetConfig("s1", {"stem": 8, "stage2": 24}, {"top1": 91.5})
    assert SubnetConfig.from_json(json.loads(json.dumps(config.to_json()))) == config
    assert ChannelSpace.from_json(json.loads(json.dumps(SPACE.to_json()))) == SPACE
    path = tmp_path / "configs.json"
    path.write_text(json.dumps([config.to_json()]))
    assert load_configs(path, SPACE) == [config]


def test_load_configs_names_the_file_on_bad_input(tmp_path):
    with pytest.raises(EdgeslimError, match="no such file"):
        load_configs(tmp_path / "missing.json", SPACE)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(EdgeslimError, match=r"bad\.json: not valid JSON"):
        load_configs(bad, SPACE)
    bad.write_text('{"name": "x"}')
    with pytest.raises(EdgeslimError, match="expected a JSON list of sub-net configurations, got a JSON dict"):
        load_configs(bad, SPACE)
