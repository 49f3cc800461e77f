"""Target profiles (``targets/*.json``): what a device runs and how its controller behaves (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeslim.backends import BACKENDS, INPUT_LAYOUTS, PRECISIONS
from edgeslim.device.controller import Policy
from edgeslim.device.telemetry import (
    CpuFreq,
    CsvPowerMeter,
    JetsonRails,
    PowerSupply,
    PsutilSensors,
    Replay,
    Telemetry,
    ThermalZones,
    UMMeter,
    Vcgencmd,
)
from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.jsonfile import read_json
from edgeslim.resources import data_dir

TELEMETRY = {
    "thermal": lambda s: ThermalZones(s.get("root", "/sys/class/thermal")),
    "cpufreq": lambda s: CpuFreq(s.get("root", "/sys/devices/system/cpu")),
    "power_supply": lambda s: PowerSupply(s.get("root", "/sys/class/power_supply")),
    "psutil": lambda s: PsutilSensors(),
    "vcgencmd": lambda s: Vcgencmd(s.get("command", "vcgencmd")),
    "jetson_rails": lambda s: JetsonRails(s.get("root", "/sys/class/hwmon")),
    "serial_csv": lambda s: CsvPowerMeter(s["url"], int(s.get("baudrate", 115200))),
    "um_meter": lambda s: UMMeter(s["url"], int(s.get("baudrate", 9600))),
    "replay": lambda s: Replay(s["path"], loop=bool(s.get("loop", False)), speed=float(s.get("speed", 1.0))),
}


@dataclass
class Target:
    name: str
    description: str
    arch: str
    backends: list[str]
    precision: str
    threads: int
    input_layout: str
    telemetry: list[dict] = field(default_factory=list)
    policy: dict = field(default_factory=dict)
    latency_table: str | None = None
    path: Path | None = None

    def controller_policy(self, **overrides) -> Policy:
        """The profile's controller thresholds, with ``overrides`` (e.g. ``slo_ms=20``) on top."""
        return Policy.from_json({**self.policy, **{k: v for k, v in overrides.items() if v is not None}})

    def build_telemetry(self) -> Telemetry:
        return Telemetry([TELEMETRY[s["source"]](s) for s in self.telemetry])


def target_files() -> dict[str, Path]:
    return {p.stem: p for p in sorted(data_dir("targets").glob("*.json"))}


def load_target(name_or_path: str) -> Target:
    """A target by name (``rpi5``) or by the path of a profile file; validated with one-line errors."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        files = target_files()
        if name_or_path not in files:
            raise unknown_name("target", name_or_path, files)
        path = files[name_or_path]
    data = read_json(path, dict, "a target profile object")
    required = ("name", "description", "arch", "backends", "precision", "threads", "input_layout")
    missing = [k for k in required if k not in data]
    if missing:
        raise EdgeslimError(f"{path}: target profile misses {', '.join(missing)}")
    unknown = set(data) - set(Target.__dataclass_fields__)
    if unknown:
        raise unknown_name(f"field in target profile {path}", sorted(unknown)[0], Target.__dataclass_fields__)
    target = Target(**data, path=path)
    for backend in target.backends:
        if backend not in BACKENDS:
            raise unknown_name(f"backend in {path}", backend, BACKENDS)
    if target.input_layout not in INPUT_LAYOUTS:
        raise unknown_name(f"input_layout in {path}", target.input_layout, INPUT_LAYOUTS)
    if target.precision not in PRECISIONS:
        raise unknown_name(f"precision in {path}", target.precision, PRECISIONS)
    for source in target.telemetry:
        kind = source.get("source") if isinstance(source, dict) else None
        if kind not in TELEMETRY:
            raise unknown_name(f"telemetry source in {path}", str(kind), TELEMETRY)
        if kind in ("serial_csv", "um_meter") and "url" not in source or kind == "replay" and "path" not in source:
            raise EdgeslimError(f"{path}: telemetry source '{kind}' needs a "
                                f"{'path' if kind == 'replay' else 'url'}")
    try:
        target.controller_policy()
    except (TypeError, ValueError) as exc:
        raise EdgeslimError(f"{path}: bad controller policy ({exc})") from None
    return target
