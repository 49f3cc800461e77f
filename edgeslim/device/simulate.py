"""Replay a telemetry trace against a bundle's measured latency profile (torch-free).

Frames arrive at ``fps``; each runs the width a policy picks, with a latency drawn from the width's measured
samples (the same draw for every policy: a slow frame is slow at every width) times a throttling multiplier from
the trace: ``thermal_slope`` per °C above ``thermal_knee_c`` (DVFS lowering clocks before the hard throttle),
and ``throttle_factor`` while the trace says throttled (clocks at their cap; the larger of the two applies).
A frame misses its deadline when its latency exceeds the SLO.

Policies compared on the same trace and draws: the width controller; always the largest; always the smallest;
and an oracle that knows each frame's latency at every width in advance and runs the largest one that meets the
deadline within the same thermal/battery caps (caps are product rules, not predictions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edgeslim.device.bundle.manifest import Bundle, open_bundle
from edgeslim.device.controller import Policy, WidthController
from edgeslim.device.profile import load_profile
from edgeslim.device.telemetry import Reading
from edgeslim.device.telemetry.replay import load_trace, trace_path
from edgeslim.errors import EdgeslimError
from edgeslim.files import output_file
from edgeslim.options import with_fields

SLO_FROM_P90 = 1.5  # the default SLO: this many times the largest width's measured p90


@dataclass(frozen=True)
class SimulationOptions:
    """The stream (``fps``), the latency SLO (default: 1.5 × the largest width's p90), the throttling model, which
    profile of the bundle to replay (``profile``: a device name or ``<device>-<backend>``, default: the newest)."""

    slo_ms: float | None = None
    fps: float = 30.0
    throttle_factor: float = 2.0
    thermal_slope: float = 0.02
    thermal_knee_c: float = 60.0
    seed: int = 0
    profile: str | None = None

    def __post_init__(self) -> None:
        if self.slo_ms is not None and self.slo_ms <= 0:
            raise EdgeslimError(f"--slo-ms {self.slo_ms}: use a positive latency in milliseconds")
        if self.fps <= 0 or self.throttle_factor < 1:
            raise EdgeslimError("--fps must be positive and --throttle-factor at least 1")


@dataclass(frozen=True)
class Simulation:
    """What :func:`simulate` returns: per policy the deadline misses, mean top-1, switches and time per width
    (``summary``), and the controller's per-frame ``timeline``."""

    summary: dict
    timeline: dict

    @property
    def policies(self) -> dict[str, dict]:
        return self.summary["policies"]

    def plot(self, path: str | Path) -> Path:
        """Width and latency over time under the controller, as a PNG (needs matplotlib)."""
        return plot_timeline({**self.summary, "timeline": self.timeline}, Path(path))


def simulate(bundle: Bundle | str | Path, trace: str | Path, options: SimulationOptions | None = None, /,
             **fields) -> Simulation:
    """Replay telemetry ``trace`` (a file, or a shipped trace's name such as ``throttling-ramp``) against the
    bundle's measured latency profile: the controller against always-largest, always-smallest and an oracle.
    ``fields`` override :class:`SimulationOptions`."""
    options = with_fields(SimulationOptions, options, fields)
    bundle = bundle if isinstance(bundle, Bundle) else open_bundle(bundle, verify=False)
    result = replay(load_profile(bundle.path, options.profile), bundle.manifest.get("policy", {}),
                    trace, options)
    return Simulation({k: v for k, v in result.items() if k != "timeline"}, result["timeline"])


def slowdown(reading: Reading | None, options: SimulationOptions) -> float:
    """Latency multiplier the trace implies at one instant."""
    if reading is None:
        return 1.0
    factor = 1.0
    if reading.temperature_c is not None:
        factor = 1.0 + options.thermal_slope * max(0.0, reading.temperature_c - options.thermal_knee_c)
    return max(factor, options.throttle_factor) if reading.throttled else factor


class _Trace:
    def __init__(self, path: str | Path):
        self.path = trace_path(path)
        self.samples = load_trace(self.path)
        self.times = np.array([t for t, _ in self.samples])

    def at(self, t: float) -> Reading:
        return self.samples[max(0, int(np.searchsorted(self.times, t, side="right")) - 1)][1]


@dataclass(frozen=True)
class Frames:
    """The stream a replay runs: frame times, the trace's reading at each, every frame's latency at every width
    (``latency[k, w]``), the rung costs and the policy the controller gets."""

    widths: list[dict]
    times: np.ndarray
    readings: list[Reading]
    factor: np.ndarray
    latency: np.ndarray
    costs: list[float]
    policy: Policy
    trace: _Trace


def frames(profile: dict, manifest_policy: dict, trace_file: str | Path, options: SimulationOptions) -> Frames:
    """The frames of a replay of ``trace_file`` against ``profile`` (the same draws for every policy)."""
    widths = sorted(profile["widths"], key=lambda w: w["mflops"])
    if any(not w.get("samples_ms") for w in widths):
        raise EdgeslimError("the profile has no latency samples; measure it again with `edgeslim profile`")
    samples = [np.sort(np.asarray(w["samples_ms"], dtype=float)) for w in widths]
    # the SLO: --slo-ms, else 1.5 × the largest width's p90 — throttling (×2) then makes the largest width miss,
    # so the trace shows the controller at work whatever the model's size (the target's frame budget, e.g. 33 ms,
    # may never bind for a small model)
    slo_ms = options.slo_ms or round(SLO_FROM_P90 * float(np.percentile(samples[-1], 90)), 4)
    policy = Policy.from_json({**manifest_policy, "slo_ms": slo_ms})
    trace = _Trace(trace_file)
    count = int(float(trace.times[-1]) * options.fps)
    rng = np.random.default_rng(options.seed)
    quantile = rng.random(count)
    times = np.arange(count) / options.fps
    readings = [trace.at(t) for t in times]
    factor = np.array([slowdown(r, options) for r in readings])
    # latency[k, w]: frame k at width w (comonotone draws across widths)
    latency = np.stack([s[np.minimum((quantile * len(s)).astype(int), len(s) - 1)] for s in samples], 1)
    latency *= factor[:, None]
    # rung costs for the step-up prediction: a wider width is never taken as cheaper than a narrower one (on a
    # loaded machine the measured p50s of tiny widths need not grow with width)
    costs = np.maximum.accumulate([w["p50_ms"] for w in widths]).tolist()
    return Frames(widths, times, readings, factor, latency, costs, policy, trace)


def replay(profile: dict, manifest_policy: dict, trace_file: str | Path, options: SimulationOptions) -> dict:
    """Run the four policies over the trace; returns their summaries and per-frame timelines."""
    stream = frames(profile, manifest_policy, trace_file, options)
    widths, times, readings, latency, policy, trace = (stream.widths, stream.times, stream.readings,
                                                       stream.latency, stream.policy, stream.trace)
    accuracy = np.array([w.get("top1") or 0.0 for w in widths])
    duration = float(trace.times[-1])
    n = len(times)
    clock = {"t": 0.0}
    controller = WidthController(stream.costs, policy, telemetry=lambda: trace.at(clock["t"]),
                                 clock=lambda: clock["t"])
    cap_tracker = WidthController(stream.costs, policy)
    chosen = {name: np.empty(n, dtype=int) for name in ("controller", "oracle")}
    caps = np.empty(n, dtype=int)
    period = policy.telemetry_period_s
    last_poll, cap = -np.inf, len(widths) - 1
    for k in range(n):
        clock["t"] = times[k]
        rung = controller.rung
        chosen["controller"][k] = rung
        controller.step(latency[k, rung])
        if times[k] - last_poll >= period:
            last_poll, cap = times[k], cap_tracker.cap_for(readings[k])
        caps[k] = cap
        fits = np.nonzero(latency[k, : cap + 1] <= policy.slo_ms)[0]
        chosen["oracle"][k] = fits[-1] if len(fits) else 0
    chosen["always largest"] = np.full(n, len(widths) - 1)
    chosen["always smallest"] = np.zeros(n, dtype=int)

    results = {}
    for name, rungs in chosen.items():
        used = latency[np.arange(n), rungs]
        switches = int((np.diff(rungs) != 0).sum())
        results[name] = {
            "miss_rate_pct": round(100.0 * float((used > policy.slo_ms).mean()), 3),
            "mean_top1": round(float(accuracy[rungs].mean()), 3),
            "switches_per_min": round(switches / (duration / 60.0), 2),
            "mean_latency_ms": round(float(used.mean()), 4),
            "time_per_width_pct": {w["name"]: round(100.0 * float((rungs == i).mean()), 2)
                                   for i, w in enumerate(widths)},
        }
    return {"trace": str(trace.path), "frames": n, "duration_s": duration, "fps": options.fps,
            "slo_ms": policy.slo_ms, "slo_from": "--slo-ms" if options.slo_ms else f"{SLO_FROM_P90} × p90 of "
            f"{widths[-1]['name']}", "profile_device": profile["device"], "backend": profile["backend"],
            "options": asdict(options), "policies": results,
            "timeline": {"t": times, "rung": chosen["controller"], "oracle": chosen["oracle"], "cap": caps,
                         "latency_ms": latency[np.arange(n), chosen["controller"]], "factor": stream.factor,
                         "latency_largest_ms": latency[:, -1], "latency_smallest_ms": latency[:, 0],
                         "temperature_c": np.array([r.temperature_c if r.temperature_c is not None else np.nan
                                                    for r in readings]),
                         "widths": [w["name"] for w in widths]}}


def plot_timeline(result: dict, path: Path) -> Path:
    """Width and latency over time under the controller (matplotlib, host or any machine that has it)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise EdgeslimError("--plot needs matplotlib (pip install matplotlib)") from None
    tl = result["timeline"]
    fig, (ax_w, ax_l) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    ax_w.step(tl["t"], tl["rung"], where="post", label="controller", lw=1.2)
    ax_w.step(tl["t"], tl["oracle"], where="post", label="oracle", lw=0.6, alpha=0.6)
    ax_w.step(tl["t"], tl["cap"], where="post", label="thermal/battery cap", ls="--", lw=0.8)
    ax_w.set_yticks(range(len(tl["widths"])), tl["widths"])
    ax_w.set_ylabel("width")
    temperature = ax_w.twinx()
    temperature.plot(tl["t"], tl["temperature_c"], color="tab:red", alpha=0.4, lw=0.8, label="temperature")
    temperature.set_ylabel("°C", color="tab:red")
    handles = [h for ax in (ax_w, temperature) for h in ax.get_legend_handles_labels()[0]]
    ax_w.legend(handles, [h.get_label() for h in handles], loc="lower left", fontsize=8)
    ax_l.plot(tl["t"], tl["latency_largest_ms"], lw=0.4, color="tab:gray", alpha=0.6,
              label=f"always largest ({tl['widths'][-1]})")
    ax_l.plot(tl["t"], tl["latency_smallest_ms"], lw=0.4, color="tab:green", alpha=0.6,
              label=f"always smallest ({tl['widths'][0]})")
    ax_l.plot(tl["t"], tl["latency_ms"], lw=0.5, color="tab:blue", label="controller")
    ax_l.axhline(result["slo_ms"], color="k", ls="--", lw=0.8, label=f"SLO {result['slo_ms']:.3g} ms")
    ax_l.set_ylabel("latency (ms)")
    ax_l.set_xlabel("time (s)")
    ax_l.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"{Path(result['trace']).name}: misses {result['policies']['controller']['miss_rate_pct']:.2f} %, "
                 f"top-1 {result['policies']['controller']['mean_top1']:.2f} "
                 f"(oracle {result['policies']['oracle']['mean_top1']:.2f})")
    fig.tight_layout()
    path = output_file(path, "--plot")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
