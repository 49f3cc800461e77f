"""One telemetry reading, and the loop-safe combination of several providers."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import Protocol

log = logging.getLogger("edgeslim.device.telemetry")


@dataclass(frozen=True)
class Reading:
    """What a provider knows now; ``None`` fields are unknown.

    temperature_c: hottest sensor; throttled: the SoC is capping its clocks; battery_pct: 0-100;
    charging: on external power; power_w: power drawn.
    """

    temperature_c: float | None = None
    throttled: bool | None = None
    battery_pct: float | None = None
    charging: bool | None = None
    power_w: float | None = None

    def merged(self, other: Reading) -> Reading:
        """Both readings in one: the hotter temperature, throttled if either is, other fields first-known."""
        def pick(name: str, a, b):
            if a is None or b is None:
                return a if b is None else b
            if name == "temperature_c":
                return max(a, b)
            if name == "throttled":
                return a or b
            return a
        return Reading(**{f.name: pick(f.name, getattr(self, f.name), getattr(other, f.name)) for f in fields(self)})


class Provider(Protocol):
    name: str

    def read(self) -> Reading | None: ...


class Telemetry:
    """Several providers read as one. A provider that fails is treated as unavailable and logged once."""

    def __init__(self, providers: list[Provider]):
        self.providers = providers
        self._reported: set[str] = set()

    def read(self) -> Reading | None:
        combined = None
        for provider in self.providers:
            try:
                reading = provider.read()
            except Exception as exc:  # a provider must never break the control loop
                reading = None
                self._report(provider, f"failed ({exc})")
            if reading is None:
                self._report(provider, "unavailable")
                continue
            combined = reading if combined is None else combined.merged(reading)
        return combined

    def _report(self, provider: Provider, what: str) -> None:
        if provider.name not in self._reported:
            self._reported.add(provider.name)
            log.warning("telemetry source %s is %s; controlling on latency without it", provider.name, what)
