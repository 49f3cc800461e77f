"""Device telemetry for the width controller (torch-free).

Every provider is a small class with one method, ``read()``, that returns a :class:`Reading` or ``None`` when
the source is unavailable (missing file, unplugged meter, garbage); it never raises into the control loop.
"""

from edgeslim.device.telemetry.background import BackgroundPoller
from edgeslim.device.telemetry.base import Reading, Telemetry
from edgeslim.device.telemetry.jetson import JetsonRails, parse_tegrastats
from edgeslim.device.telemetry.linux import CpuFreq, PowerSupply, ThermalZones
from edgeslim.device.telemetry.psutil_sensors import PsutilSensors
from edgeslim.device.telemetry.replay import Replay
from edgeslim.device.telemetry.rpi import Vcgencmd, parse_throttled
from edgeslim.device.telemetry.serial_meter import CsvPowerMeter, UMMeter

__all__ = ["BackgroundPoller",
           "CpuFreq", "CsvPowerMeter", "JetsonRails", "PowerSupply", "PsutilSensors", "Reading", "Replay", "Telemetry",
           "ThermalZones", "UMMeter", "Vcgencmd", "parse_tegrastats", "parse_throttled"]
