"""Replayed telemetry: a recorded trace file read back against the clock."""

from __future__ import annotations

import bisect
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

from edgeslim.device.telemetry.base import Reading
from edgeslim.errors import EdgeslimError

COLUMNS = ("temperature_c", "throttled", "battery_pct", "charging", "power_w")


def _value(column: str, text):
    if text in (None, ""):
        return None
    if column in ("throttled", "charging"):
        return str(text).strip().lower() in ("1", "true", "yes")
    return float(text)


def trace_path(name: str | Path) -> Path:
    """A trace file, or a shipped trace by name (``throttling-ramp``) or by its checkout path
    (``calibration/trace-throttling-ramp.csv`` works from any directory, also in an installed package)."""
    path = Path(name)
    if path.exists():
        return path
    from edgeslim.resources import data_dir

    folder = data_dir("calibration")
    shipped = {p.stem.removeprefix("trace-"): p for p in sorted(folder.glob("trace-*.*"))}
    by_file = {p.name: p for p in shipped.values()}
    if str(name) in shipped or path.name in by_file:
        return shipped.get(str(name)) or by_file[path.name]
    raise EdgeslimError(f"{name}: no such trace file; shipped traces: {', '.join(shipped)} (in {folder})")


def load_trace(path: str | Path) -> list[tuple[float, Reading]]:
    """A trace (CSV with a header, or a JSON list of objects): column ``t`` in seconds plus any of
    temperature_c, throttled, battery_pct, charging, power_w; sorted by time. ``path`` may name a shipped trace."""
    path = trace_path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise EdgeslimError(f"{path}: not a telemetry trace (not UTF-8 text)") from None
    except OSError as exc:
        raise EdgeslimError(f"{path}: cannot read the trace ({exc.strerror or exc})") from None
    try:
        rows = json.loads(text) if path.suffix == ".json" else list(csv.DictReader(text.splitlines()))
        samples = [(float(r["t"]), Reading(**{c: _value(c, r.get(c)) for c in COLUMNS})) for r in rows]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise EdgeslimError(f"{path}: not a telemetry trace ({type(exc).__name__}: {exc}); expected a column 't' "
                            f"(seconds) and any of {', '.join(COLUMNS)}") from None
    if not samples:
        raise EdgeslimError(f"{path}: the trace has no samples")
    return sorted(samples, key=lambda s: s[0])


class Replay:
    """The trace's latest sample at or before the elapsed time (``clock`` from construction, times ``speed``:
    60 replays a minute per second); the first sample before that, unavailable after the end unless ``loop``."""

    name = "replay"

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.monotonic, loop: bool = False,
                 speed: float = 1.0):
        self.samples = load_trace(path)
        self.speed = speed
        self.times = [t for t, _ in self.samples]
        self.clock, self.loop = clock, loop
        self.start = clock()

    def at(self, t: float) -> Reading | None:
        duration = self.times[-1]
        if t > duration:
            if not self.loop or duration <= 0:
                return None
            t %= duration
        return self.samples[max(0, bisect.bisect_right(self.times, t) - 1)][1]

    def read(self) -> Reading | None:
        return self.at((self.clock() - self.start) * self.speed)
