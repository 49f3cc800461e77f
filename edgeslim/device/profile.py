"""On-device profiling of every width, like TFLite's benchmark_model (torch-free).

For each width, in a randomized order: first run (paid at load), warm-up, then ``runs`` timed batch-1 calls →
p50/p90/p99; peak memory of the process; temperature at start and end; energy per inference when a serial power
meter is given. Writes ``profiles/<device>-<backend>.json`` into the bundle (one per device and backend) and
``profiles/<device>-<backend>.latency.json``, the per-sub-net latency table `edgeslim search --latency-table`
reads.
"""

from __future__ import annotations

import json
import platform
import random
import re
import resource
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from edgeslim.device.bundle.manifest import Bundle
from edgeslim.device.runtime import DynamicModel
from edgeslim.device.telemetry import CsvPowerMeter, ThermalZones, UMMeter
from edgeslim.errors import EdgeslimError
from edgeslim.files import write_atomic
from edgeslim.formats import LATENCY, PROFILE
from edgeslim.options import with_fields


def device_name() -> str:
    """The board's model (device tree) or ``<os>-<arch>``, as a file-name-safe slug."""
    model = Path("/sys/firmware/devicetree/base/model")
    name = model.read_bytes().decode(errors="ignore").strip("\x00 \n") if model.is_file() else ""
    name = name or f"{platform.system()}-{platform.machine()}"
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def open_meter(spec: str):
    """``csv:URL`` (INA219/INA226 CSV lines) or ``um:URL`` (UM24C/UM25C/UM34C); a pyserial URL."""
    kind, _, url = spec.partition(":")
    if kind == "csv" and url:
        return CsvPowerMeter(url)
    if kind == "um" and url:
        return UMMeter(url)
    raise EdgeslimError(f"--meter {spec}: expected csv:URL or um:URL (a pyserial URL such as /dev/ttyUSB0, "
                        f"socket://host:port or loop://)")


@dataclass(frozen=True)
class ProfileOptions:
    """``backend`` (default: the first of the bundle's that runs here), timed ``runs`` and untimed ``warmup``
    calls per width, interpreter ``threads`` (default: the target's), a serial power ``meter`` (``csv:URL`` or
    ``um:URL``) and the ``device_name`` the profile is saved under (default: the board's model)."""

    backend: str | None = None
    runs: int = 200
    warmup: int = 20
    threads: int | None = None
    meter: str | None = None
    device_name: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.device_name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", self.device_name):
            raise EdgeslimError(f"--device-name {self.device_name!r}: use letters, digits, '.', '_' and '-' only "
                                "(it names a file in the bundle's profiles/)")
        if self.runs < 5:
            raise EdgeslimError(f"--runs {self.runs}: use at least 5 timed runs per width")
        if self.warmup < 0:
            raise EdgeslimError(f"--warmup {self.warmup}: use 0 or more untimed runs")
        if self.threads is not None and self.threads < 1:
            raise EdgeslimError(f"--threads {self.threads}: use at least 1 (or leave it out for the target's)")


@dataclass(frozen=True)
class Profile:
    """A measured profile (``profiles/<device>-<backend>.json`` of a bundle): per width p50/p90/p99, first run,
    samples."""

    path: Path
    data: dict

    @property
    def device(self) -> str:
        return self.data["device"]

    @property
    def backend(self) -> str:
        return self.data["backend"]

    @property
    def widths(self) -> list[dict]:
        return self.data["widths"]

    def p50_ms(self) -> dict[str, float]:
        return {w["name"]: w["p50_ms"] for w in self.widths}

    def latency_table(self) -> dict:
        return latency_table(self.data)


def _percentile(samples: np.ndarray, q: float) -> float:
    return round(float(np.percentile(samples, q)), 4)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


METER_WINDOW_S = 1.0  # power meters report a few times a second: keep the width running at least this long


def _power_while_running(model: DynamicModel, x: np.ndarray, meter, window_start: float) -> list[float]:
    """Meter readings (W) taken while the current width keeps running, over at least METER_WINDOW_S."""
    power, calls = [], 0
    while True:
        elapsed = time.perf_counter() - window_start
        if elapsed >= METER_WINDOW_S and power or elapsed >= 5 * METER_WINDOW_S:  # a silent meter: give up
            return power
        model(x)
        calls += 1
        if calls % 10 == 0:
            reading = meter.read()
            if reading is not None and reading.power_w is not None:
                power.append(reading.power_w)


def profile(bundle: Bundle | str | Path, options: ProfileOptions | None = None, /, on_width=None,
            **fields) -> Profile:
    """Measure every width of ``bundle`` like benchmark_model; the profile is also written into the bundle's
    ``profiles/``. ``fields`` override :class:`ProfileOptions`; ``on_width(row)`` is called after each width."""
    options = with_fields(ProfileOptions, options, fields)
    started = time.perf_counter()
    thermal = ThermalZones()
    temperature_start = getattr(thermal.read(), "temperature_c", None)
    model = DynamicModel.open(bundle, backend=options.backend, threads=options.threads)
    if model.gate:  # each width alone (gate program + that width's remainder): the cost of the controller's cap
        model.set_routing("fixed")
    meter = open_meter(options.meter) if options.meter else None
    rng = np.random.default_rng(options.seed)
    x = rng.standard_normal(model.input_shape).astype(np.float32)
    order = list(model.widths)
    random.Random(options.seed).shuffle(order)
    widths = {w["name"]: w for w in model.bundle.widths}
    rows = {}
    if meter is not None:
        meter.read()  # connect and drop what was buffered before the measurement
    for width in order:
        model.set_width(width)
        for _ in range(options.warmup):
            model(x)
        samples = np.empty(options.runs)
        window = time.perf_counter()
        for i in range(options.runs):
            model(x)
            samples[i] = model.last_ms
        power = _power_while_running(model, x, meter, window) if meter is not None else []
        row = {"name": width, "mflops": widths[width]["mflops"], "top1": widths[width].get("top1"),
               "first_run_ms": round(model.first_run_ms[width], 4), "mean_ms": round(float(samples.mean()), 4),
               "p50_ms": _percentile(samples, 50), "p90_ms": _percentile(samples, 90),
               "p99_ms": _percentile(samples, 99), "min_ms": round(float(samples.min()), 4),
               "samples_ms": [round(float(s), 4) for s in samples]}
        if power:
            row["power_w"] = round(float(np.mean(power)), 4)
            row["energy_mj"] = round(row["power_w"] * row["mean_ms"], 4)  # W x ms = mJ
        rows[width] = row
        if on_width:
            on_width(row)
    if meter is not None:
        meter.close()
    result = {
        "format": PROFILE, "device": options.device_name or device_name(), "machine": platform.machine(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "backend": model.backend,
        "threads": model.threads, "runs": options.runs, "warmup": options.warmup, "order": order,
        "load_ms": {"import_runtime": round(model.import_ms, 3), "rebuild_artifact": round(model.materialize_ms, 3),
                    "init": round(model.init_ms, 3)},
        "peak_rss_mb": round(_peak_rss_mb(), 1),
        "temperature_c": {"start": temperature_start, "end": getattr(thermal.read(), "temperature_c", None)},
        "meter": options.meter, "seconds": round(time.perf_counter() - started, 2),
        "widths": [rows[w] for w in model.widths],
    }
    return Profile(_write(model.bundle.path, result), result)


def latency_table(profile_data: dict) -> dict:
    """The per-sub-net latency table (p50 per width, by MFLOPs) for `edgeslim search --latency-table`."""
    return {"format": LATENCY, "device": profile_data["device"], "backend": profile_data["backend"],
            "threads": profile_data["threads"],
            "subnets": [{"name": w["name"], "mflops": w["mflops"], "ms": w["p50_ms"]} for w in profile_data["widths"]]}


def _write(bundle: Path, data: dict) -> Path:
    directory = bundle / "profiles"
    directory.mkdir(exist_ok=True)
    stem = f"{data['device']}-{data['backend']}"
    for name, payload in ((f"{stem}.json", data), (f"{stem}.latency.json", latency_table(data))):
        write_atomic(directory / name, json.dumps(payload, indent=1))
    return directory / f"{stem}.json"


def load_profile(bundle: Path, name: str | None = None, backend: str | None = None) -> dict:
    """The bundle's newest profile, of ``name`` (a profile file's stem, ``<device>-<backend>``, or a device name)
    and ``backend`` when given."""
    from edgeslim.jsonfile import read_json

    directory = Path(bundle) / "profiles"
    found = []
    for path in directory.glob("*.json"):
        if path.name.endswith(".latency.json"):
            continue
        data = read_json(path, dict, "an edgeslim profile")
        if (name is None or name in (path.stem, data.get("device"))) and backend in (None, data.get("backend")):
            found.append((path.stat().st_mtime, path.name, data))
    if not found:
        what = " ".join(filter(None, (name, backend)))
        have = sorted(p.stem for p in directory.glob("*.json") if not p.name.endswith(".latency.json"))
        raise EdgeslimError(f"{bundle}: no {what + ' ' if what else ''}latency profile"
                            f"{' (it has ' + ', '.join(have) + ')' if have else ''}; measure one with "
                            f"`edgeslim profile {bundle}`")
    return max(found, key=lambda f: f[:2])[2]
