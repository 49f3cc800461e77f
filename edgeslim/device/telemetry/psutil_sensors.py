"""Portable sensors through psutil: hottest temperature sensor, battery (None on machines without one)."""

from __future__ import annotations

from edgeslim.device.telemetry.base import Reading


class PsutilSensors:
    name = "psutil"

    def read(self) -> Reading | None:
        try:
            import psutil
        except ImportError:
            return None
        temps = [s.current for group in (getattr(psutil, "sensors_temperatures", dict)() or {}).values()
                 for s in group if s.current is not None and -40 < s.current < 200]
        battery = getattr(psutil, "sensors_battery", lambda: None)()
        if not temps and battery is None:
            return None
        return Reading(temperature_c=max(temps) if temps else None,
                       battery_pct=battery.percent if battery else None,
                       charging=battery.power_plugged if battery else None)
