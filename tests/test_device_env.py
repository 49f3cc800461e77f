"""The device side imports and works without torch, in the torch-free device environment (numpy<2,
tflite-runtime), exactly as it is installed on a board."""

import json
import subprocess
import sys

from conftest import ROOT, device_python


def device_modules() -> list[str]:
    """Every module outside ``edgeslim.host`` (the device package, the shared torch-free modules, the CLI)."""
    names = ["edgeslim"]
    for path in sorted((ROOT / "edgeslim").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1] == "host" or parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return sorted(set(names))


DEVICE_MODULES = device_modules()

CHECK = """
import json, sys
import numpy, tflite_runtime.interpreter as tfl
{imports}
from edgeslim.subnets import ChannelSpace, SubnetConfig
space = ChannelSpace.from_json(json.loads(sys.argv[1]))
config = space.validate(SubnetConfig.from_json(json.loads(sys.argv[2])))
try:
    space.validate(SubnetConfig("bad", dict(config.channels, stem=3)))
    raise SystemExit("invalid configuration accepted")
except Exception as exc:
    error = str(exc)
from edgeslim.device.controller import Policy, WidthController
from edgeslim.device.telemetry import CsvPowerMeter, Reading
meter = CsvPowerMeter("loop://")
meter.port().write(b"5.0,400,2000\\n")
hot = WidthController([1.0, 2.0], Policy(), telemetry=lambda: Reading(temperature_c=90.0))
assert meter.read() == Reading(power_w=2.0) and hot.step(1.0) == 0
print(json.dumps({{"torch": "torch" in sys.modules, "numpy": numpy.__version__, "key": config.key(),
                  "error": error, "interpreter": tfl.Interpreter.__name__}}))
"""


def test_device_modules_import_without_torch_in_the_host_env():
    code = f"import sys; import {', '.join(DEVICE_MODULES)}; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_device_env_has_no_torch_and_reads_configurations():
    space = [{"name": "stem", "channels": 16, "granularity": 4, "members": ["stem.0"]}]
    config = {"name": "w050", "channels": {"stem": 8}}
    code = CHECK.format(imports="\n".join(f"import {m}" for m in DEVICE_MODULES))
    result = subprocess.run([device_python(), "-c", code, json.dumps(space), json.dumps(config)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["torch"] is False
    assert report["numpy"].startswith("1.")
    assert report["key"] == "stem=8"
    assert "multiple of 4" in report["error"]
    torch_import = subprocess.run([device_python(), "-c", "import torch"], capture_output=True, text=True)
    assert torch_import.returncode != 0  # the device environment really has no torch


def test_host_commands_on_the_device_install_say_so_in_one_line(tmp_path):
    result = subprocess.run([device_python(), "-m", "edgeslim", "build", str(tmp_path), "--target", "rpi5"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        'edgeslim build: error: needs torch, which the device install lacks; run it on the host '
        '(pip install "edgeslim[host]")']
