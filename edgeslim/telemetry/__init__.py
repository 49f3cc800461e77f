"""Device telemetry for the width controller (torch-free).

Every provider is a small class with one method, ``read()``, that returns a :class:`Reading` or ``None`` when
the source is unavailable (missing file, unplugged meter, garbage); it never raises into the control loop.
"""

from .background import BackgroundPoller
from .base import Reading, Telemetry
from .jetson import JetsonRails, parse_tegrastats
from .linux import CpuFreq, PowerSupply, ThermalZones
from .psutil_sensors import PsutilSensors
from .replay import Replay
from .rpi import Vcgencmd, parse_throttled
from .serial_meter import CsvPowerMeter, UMMeter

__all__ = ["BackgroundPoller",
           "CpuFreq", "CsvPowerMeter", "JetsonRails", "PowerSupply", "PsutilSensors", "Reading", "Replay", "Telemetry",
           "ThermalZones", "UMMeter", "Vcgencmd", "parse_tegrastats", "parse_throttled"]
