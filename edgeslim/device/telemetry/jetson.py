"""NVIDIA Jetson: INA3221 power rails through hwmon, and tegrastats lines."""

from __future__ import annotations

import re
from pathlib import Path

from edgeslim.device.telemetry.base import Reading
from edgeslim.device.telemetry.linux import children, read_number, read_text


class JetsonRails:
    """Total power of the INA3221 rails (``in[123]_input`` mV × ``curr[123]_input`` mA) under a hwmon directory."""

    name = "jetson-ina3221"

    def __init__(self, root: str | Path = "/sys/class/hwmon"):
        self.root = Path(root)

    def rails(self) -> dict[str, float]:
        """Power per rail in watts, keyed by ``in*_label``."""
        found = {}
        for hwmon in children(self.root, "hwmon*") or [self.root]:
            for label_file in children(hwmon, "in[0-9]_label"):
                channel = label_file.name[2]
                mv, ma = read_number(hwmon / f"in{channel}_input"), read_number(hwmon / f"curr{channel}_input")
                label = read_text(label_file)
                if mv is not None and ma is not None and label:
                    found[label] = mv * ma / 1e6
        return found

    def read(self) -> Reading | None:
        rails = self.rails()
        return Reading(power_w=sum(rails.values())) if rails else None


_TEMP = re.compile(r"\b([A-Za-z0-9_]+)@(-?[0-9]+(?:\.[0-9]+)?)C\b")
_RAIL = re.compile(r"\b([A-Z][A-Z0-9_]+) ([0-9]+)mW/([0-9]+)mW(?:/[0-9]+mW)?")


def parse_tegrastats(line: str) -> Reading | None:
    """One tegrastats line -> hottest sensor (°C) and power (the VDD_IN rail when present, else the rails' sum).

    ``RAM 2448/7764MB ... CPU [3%@1190,...] ... cpu@47.5C soc2@45.4C ... VDD_IN 5039mW/5039mW VDD_CPU_GPU_CV
    522mW/522mW``; some builds print a third (average) value per rail.
    """
    temps = [float(v) for name, v in _TEMP.findall(line) if float(v) > -100]  # -256C marks absent sensors
    rails = {name: float(now) for name, now, _ in _RAIL.findall(line)}
    if not temps and not rails:
        return None
    power = rails.get("VDD_IN", sum(rails.values())) / 1000 if rails else None
    return Reading(temperature_c=max(temps) if temps else None, power_w=power)
