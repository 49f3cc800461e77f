"""Linux sysfs: thermal zones and cooling devices, cpufreq caps, power_supply batteries.

Every reader takes the sysfs directory as ``root`` so it can run against a copy of a device's layout.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

from edgeslim.device.telemetry.base import Reading

MAX_SYSFS_BYTES = 4096


def read_text(path: Path) -> str | None:
    """The text of a small sysfs file, or None: only a regular file is read (a FIFO or a device at that path
    would block), at most MAX_SYSFS_BYTES, undecodable bytes replaced; missing or unreadable is None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, MAX_SYSFS_BYTES).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def read_number(path: Path) -> float | None:
    """The finite number in a sysfs file, or None when it is missing, unreadable or not a number."""
    try:
        value = float(read_text(path) or "")
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def children(root: Path, pattern: str) -> list[Path]:
    """``root``'s entries matching ``pattern``, sorted; none when ``root`` is missing or unreadable."""
    try:
        return sorted(root.glob(pattern))
    except OSError:
        return []


class ThermalZones:
    """Hottest ``thermal_zone*/temp`` (milli-°C); throttled when a CPU cooling device is active (cur_state > 0)."""

    name = "linux-thermal"

    def __init__(self, root: str | Path = "/sys/class/thermal"):
        self.root = Path(root)

    def read(self) -> Reading | None:
        temps = [t / 1000.0 for z in children(self.root, "thermal_zone*")
                 if (t := read_number(z / "temp")) is not None and -40_000 < t < 200_000]
        states = []
        for device in children(self.root, "cooling_device*"):
            kind = (read_text(device / "type") or "").lower()
            if not kind:
                continue
            state = read_number(device / "cur_state")
            if state is not None and ("cpufreq" in kind or "processor" in kind or "cpu" in kind):
                states.append(state > 0)
        if not temps and not states:
            return None
        return Reading(temperature_c=max(temps) if temps else None, throttled=any(states) if states else None)


class CpuFreq:
    """Throttled when any CPU's ``scaling_max_freq`` is below its ``cpuinfo_max_freq`` (kHz)."""

    name = "linux-cpufreq"

    def __init__(self, root: str | Path = "/sys/devices/system/cpu"):
        self.root = Path(root)

    def read(self) -> Reading | None:
        capped = []
        for policy in children(self.root, "cpu[0-9]*/cpufreq"):
            limit, top = read_number(policy / "scaling_max_freq"), read_number(policy / "cpuinfo_max_freq")
            if limit is not None and top:
                capped.append(limit < top)
        return Reading(throttled=any(capped)) if capped else None


class PowerSupply:
    """The first battery under ``power_supply``: capacity (%), status, power (power_now, else |I·V|; µW/µA/µV)."""

    name = "linux-power-supply"

    def __init__(self, root: str | Path = "/sys/class/power_supply"):
        self.root = Path(root)

    def read(self) -> Reading | None:
        for supply in children(self.root, "*"):
            capacity = read_number(supply / "capacity")
            if capacity is None or not 0 <= capacity <= 100:
                continue
            status = read_text(supply / "status") or ""
            power = read_number(supply / "power_now")
            if power is None:
                current, voltage = read_number(supply / "current_now"), read_number(supply / "voltage_now")
                power = abs(current * voltage) / 1e6 if current is not None and voltage is not None else None
            return Reading(battery_pct=capacity, charging=status in ("Charging", "Full", "Not charging"),
                           power_w=power / 1e6 if power is not None else None)
        return None
