"""The width controller: picks a rung of the width ladder from latency, thermal and battery telemetry (torch-free).

Rungs are indexed from the smallest (0) to the largest sub-net. Rules, after the literature on run-time
adaptive DNNs:
- **Latency SLO**: when the p90 of the last ``window`` latencies at the current rung exceeds ``slo_ms``, step
  down one rung at once. Step up only after ``dwell_s`` at the rung, and only when the next rung's predicted
  p90 (current p90 × its cost ratio) stays ``up_margin`` below the SLO.
- **Thermal cap**: at or above each ``thermal_caps`` temperature, at most the largest rung minus its steps;
  a cap is lifted only once the temperature is ``hysteresis_c`` below its threshold. A throttling flag costs
  ``throttle_steps``.
- **Battery cap**: while discharging, at or below each ``battery_caps`` level, at most the largest minus its steps.
Telemetry is polled at most every ``telemetry_period_s``; without telemetry the controller uses latency alone.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from edgeslim.device.telemetry.base import Reading


@dataclass
class Policy:
    """Controller thresholds (target profiles carry their own; every field can be overridden)."""

    slo_ms: float | None = None
    window: int = 20
    percentile: float = 90.0
    up_margin: float = 0.15
    dwell_s: float = 5.0
    thermal_caps: list[tuple[float, int]] = field(default_factory=lambda: [(70.0, 1), (80.0, 2), (85.0, 99)])
    hysteresis_c: float = 3.0
    throttle_steps: int = 1
    battery_caps: list[tuple[float, int]] = field(default_factory=lambda: [(30.0, 1), (15.0, 99)])
    telemetry_period_s: float = 1.0

    @classmethod
    def from_json(cls, data: dict) -> Policy:
        known = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in known}
        for key in ("thermal_caps", "battery_caps"):
            if key in values:
                values[key] = [(float(a), int(b)) for a, b in values[key]]
        return cls(**values)


class WidthController:
    """Call :meth:`step` after every inference with its latency; it returns the rung to run next."""

    def __init__(self, costs: list[float], policy: Policy, telemetry: Callable[[], Reading | None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if not costs or sorted(costs) != list(costs):
            raise ValueError("rung costs must be given smallest rung first, in increasing order")
        self.costs, self.policy, self.telemetry, self.clock = list(costs), policy, telemetry, clock
        self.top = len(costs) - 1
        self.rung = self.top
        self.cap = self.top
        self.latencies: deque[float] = deque(maxlen=policy.window)
        self.since = clock()
        self.last_poll = float("-inf")
        self.reading: Reading | None = None
        self._thermal_steps = 0
        self._check_every = max(1, policy.window // 4)
        self._count = 0

    def step(self, latency_ms: float) -> int:
        """Record one inference at the current rung; return the rung for the next one."""
        self.latencies.append(latency_ms)
        self._count += 1
        now = self.clock()
        if self.telemetry is not None and now - self.last_poll >= self.policy.telemetry_period_s:
            self.last_poll = now
            self.reading = self.telemetry()
            self.cap = self.cap_for(self.reading)
        target = min(self.rung, self.cap)
        if self.policy.slo_ms is not None and self._count % self._check_every == 0 and len(self.latencies) >= 5:
            target = self._latency_rule(target, now)
        elif self.policy.slo_ms is None:
            target = self.cap
        if target != self.rung:
            self.rung, self.since = target, now
            self.latencies.clear()
        return self.rung

    def _latency_rule(self, rung: int, now: float) -> int:
        ordered = sorted(self.latencies)
        p = ordered[min(len(ordered) - 1, int(len(ordered) * self.policy.percentile / 100))]
        slo = self.policy.slo_ms
        if p > slo:
            return max(0, rung - 1)
        if rung < self.cap and now - self.since >= self.policy.dwell_s:
            predicted = p * self.costs[rung + 1] / self.costs[rung]
            if predicted * (1 + self.policy.up_margin) <= slo:
                return rung + 1
        return rung

    def cap_for(self, reading: Reading | None) -> int:
        """The largest rung ``reading`` allows (the largest when there is none); keeps the thermal hysteresis state."""
        if reading is None:
            self._thermal_steps = 0
            return self.top
        steps = 0
        if reading.temperature_c is not None:
            t = reading.temperature_c
            wanted = max((s for limit, s in self.policy.thermal_caps if t >= limit), default=0)
            held = max((s for limit, s in self.policy.thermal_caps
                        if s <= self._thermal_steps and t >= limit - self.policy.hysteresis_c), default=0)
            self._thermal_steps = max(wanted, held)
            steps = self._thermal_steps
        if reading.throttled:
            steps += self.policy.throttle_steps
        if reading.battery_pct is not None and not reading.charging:
            steps = max(steps, max((s for limit, s in self.policy.battery_caps if reading.battery_pct <= limit),
                                   default=0))
        return max(0, self.top - steps)
