"""Target profiles: the shipped ones load and build their telemetry; bad profiles fail with one line."""

import json

import pytest
from conftest import run_cli

from edgeslim.device.targets import load_target, target_files
from edgeslim.errors import EdgeslimError

REQUIRED = {"android-arm64", "ios-arm64", "rpi4", "rpi5", "jetson-orin", "x86-emu"}


def test_every_shipped_profile_loads_with_a_policy_and_telemetry():
    assert REQUIRED <= set(target_files())
    for name in target_files():
        target = load_target(name)
        assert target.name == name and target.backends and target.threads >= 1
        assert target.controller_policy().window > 0
        assert len(target.build_telemetry().providers) == len(target.telemetry)
    assert load_target("rpi5").controller_policy(slo_ms=12.5).slo_ms == 12.5


def test_targets_cli_lists_them(tmp_path):
    listing = json.loads(run_cli("targets", "--json").stdout)
    assert REQUIRED <= {t["name"] for t in listing}


def test_unknown_and_broken_profiles(tmp_path):
    with pytest.raises(EdgeslimError, match="did you mean rpi5"):
        load_target("rpi6")
    base = json.loads(load_target("rpi5").path.read_text())
    cases = [({"backends": ["tflite", "tensorrt"]}, "unknown backend in"),
             ({"precision": "int4"}, "unknown precision"),
             ({"telemetry": [{"source": "thermals"}]}, "did you mean thermal"),
             ({"telemetry": [{"source": "um_meter"}]}, "needs a url"),
             ({"policy": {"thermal_caps": "hot"}}, "bad controller policy"),
             ({"colour": "red"}, "unknown field in target profile")]
    for change, message in cases:
        path = tmp_path / "custom.json"
        path.write_text(json.dumps({**base, **change}))
        with pytest.raises(EdgeslimError, match=message):
            load_target(str(path))
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(EdgeslimError, match="broken.json: not valid JSON"):
        load_target(str(tmp_path / "broken.json"))


def test_backends_cli_prints_the_one_backend_table():
    rows = json.loads(run_cli("backends", "--json").stdout)
    assert [r["backend"] for r in rows] == ["executorch", "coreml", "tflite"]
    by_name = {r["backend"]: r for r in rows}
    assert by_name["tflite"]["runs_here"] and by_name["executorch"]["runs_here"]  # the host venv has both
    assert not by_name["coreml"]["runs_here"] and by_name["coreml"]["stored"] == "whole"
    assert by_name["executorch"]["artifact"] == "model.pte" and "int8" in by_name["tflite"]["precisions"]
    table = run_cli("backends")
    assert table.returncode == 0 and "model.mlpackage" in table.stdout  # the table is a result: stdout
