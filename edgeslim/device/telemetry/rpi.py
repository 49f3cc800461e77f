"""Raspberry Pi: ``vcgencmd get_throttled`` and ``vcgencmd measure_temp``."""

from __future__ import annotations

import re
import subprocess

from edgeslim.device.telemetry.base import Reading

# bits 0-3 describe now: under-voltage, ARM frequency capped, throttled, soft temperature limit
_NOW_MASK = 0xF


def parse_throttled(text: str) -> bool | None:
    """``throttled=0x50005`` -> True when any "now" bit (0-3) is set; None for anything else."""
    match = re.fullmatch(r"\s*throttled=(0x[0-9a-fA-F]+)\s*", text)
    return bool(int(match.group(1), 16) & _NOW_MASK) if match else None


def parse_temperature(text: str) -> float | None:
    """``temp=55.8'C`` -> 55.8."""
    match = re.fullmatch(r"\s*temp=(-?[0-9]+(?:\.[0-9]+)?)'C\s*", text)
    return float(match.group(1)) if match else None


class Vcgencmd:
    """Runs ``vcgencmd`` (or ``command``) with a short timeout; unavailable when it is missing or prints garbage."""

    name = "rpi-vcgencmd"

    def __init__(self, command: str = "vcgencmd", timeout_s: float = 0.5):
        self.command, self.timeout_s = command, timeout_s

    def _run(self, *args: str) -> str | None:
        try:
            done = subprocess.run([self.command, *args], capture_output=True, timeout=self.timeout_s)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            return None
        if done.returncode == 0:
            return done.stdout[:4096].decode("utf-8", errors="replace")
        return None

    def read(self) -> Reading | None:
        throttled = parse_throttled(self._run("get_throttled") or "")
        temperature = parse_temperature(self._run("measure_temp") or "")
        if throttled is None and temperature is None:
            return None
        return Reading(temperature_c=temperature, throttled=throttled)
