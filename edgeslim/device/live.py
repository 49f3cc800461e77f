"""`edgeslim run`: the live loop — frames in, the controller picks the width, a status line out (torch-free).

Frames come from the bundle's own test samples (default), an image folder, or a camera (OpenCV, or picamera2 on
a Raspberry Pi). Telemetry providers are polled on a background thread so a slow source never stalls inference.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeslim.device.bundle.manifest import Bundle
from edgeslim.device.controller import WidthController
from edgeslim.device.preprocess import IMAGE_SUFFIXES, preprocess, read_image
from edgeslim.device.runtime import ROUTINGS, DynamicModel
from edgeslim.device.targets import TELEMETRY, Target
from edgeslim.device.telemetry import BackgroundPoller, Reading, Telemetry
from edgeslim.errors import EdgeslimError, unknown_name


@dataclass(frozen=True)
class LiveOptions:
    """``input``: None (the bundle's samples, endlessly), an image folder (each image once; a class subfolder
    named like a bundle class gives the label) or ``camera[:N]``; ``telemetry``: source entries (default: the
    target's); stop after ``frames`` or ``seconds``; ``routing`` / ``gate_head`` / ``escalate`` for a gated
    bundle (see :meth:`DynamicModel.set_routing`)."""

    input: str | None = None
    telemetry: list[dict] | None = None
    slo_ms: float | None = None
    frames: int | None = None
    seconds: float | None = None
    backend: str | None = None
    threads: int | None = None
    routing: str | None = None
    gate_head: str | None = None
    escalate: float | None = None

    def __post_init__(self) -> None:
        if self.slo_ms is not None and self.slo_ms <= 0:
            raise EdgeslimError(f"--slo-ms {self.slo_ms}: use a positive latency in milliseconds")
        if self.frames is not None and self.frames < 1 or self.seconds is not None and self.seconds <= 0:
            raise EdgeslimError("--frames must be at least 1 and --seconds positive")
        if self.threads is not None and self.threads < 1:
            raise EdgeslimError(f"--threads {self.threads}: use at least 1 (or leave it out for the target's)")
        if self.routing not in (None, *ROUTINGS):
            raise unknown_name("routing", self.routing, ROUTINGS)
        if self.escalate is not None and self.routing != "cascade":
            raise EdgeslimError(f"--escalate {self.escalate}: only --routing cascade escalates; add it or drop "
                                "--escalate")


def parse_telemetry(spec: str) -> list[dict]:
    """``thermal,cpufreq,replay:trace.csv,um_meter:socket://host:port`` → telemetry source entries."""
    sources = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        kind, _, arg = item.partition(":")
        if kind not in TELEMETRY:
            raise unknown_name("telemetry source", kind, TELEMETRY)
        entry = {"source": kind}
        if arg:
            entry["path" if kind == "replay" else "url" if kind in ("serial_csv", "um_meter") else "root"] = arg
        sources.append(entry)
    return sources


Frame = tuple[np.ndarray, int | None, str | None]  # image, label (if known), file (folder input)


def frames_from(source: str | None, bundle: Bundle, classes: list[str] | None = None) -> Iterator[Frame]:
    """Frames, endlessly for samples and cameras, once for a folder (labelled by class subfolder names)."""
    if source is None:
        x, y = bundle.samples()
        if not len(x):
            raise EdgeslimError(f"{bundle.path}: its samples are empty; pass --input DIR or --input camera")
        for i in itertools.cycle(range(len(x))):
            yield x[i], int(y[i]), None
    elif source.startswith("camera"):
        yield from _camera(int(source.partition(":")[2] or 0))
    else:
        folder = Path(source)
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (*IMAGE_SUFFIXES, ".npy"))
        if not files:
            raise EdgeslimError(f"--input {source}: no images ({', '.join(IMAGE_SUFFIXES)} or .npy) found")
        index = {name: i for i, name in enumerate(classes or [])}
        for file in files:
            yield read_image(file), index.get(file.parent.name), file.relative_to(folder).as_posix()


def _camera(index: int) -> Iterator[Frame]:
    try:
        from picamera2 import Picamera2

        camera = Picamera2()
        camera.start()
        while True:
            yield camera.capture_array()[..., :3], None, None
    except ImportError:
        pass
    try:
        import cv2
    except ImportError:
        raise EdgeslimError("--input camera needs OpenCV (pip install opencv-python-headless) or picamera2") from None
    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        raise EdgeslimError(f"--input camera:{index}: no camera at index {index}")
    while True:
        ok, frame = capture.read()
        if not ok:
            return
        yield frame[..., ::-1], None, None


def live(bundle_path: str | Path, options: LiveOptions, status=None, on_prediction=None, on_start=None) -> dict:
    """Run the loop until the input ends, ``frames``, ``seconds`` or Ctrl-C (the summary then says
    ``interrupted``); ``on_start(model)`` is called once the bundle is open, ``status(dict)`` ~4x a second,
    ``on_prediction(dict)`` after each image of a folder (file, class, score, width; also in the summary)."""
    model = DynamicModel.open(bundle_path, backend=options.backend, threads=options.threads)
    if options.gate_head and not model.gate:
        raise EdgeslimError(f"--gate-head {options.gate_head}: {model.bundle.path} has no gate (it was not trained "
                            "with --method dsnet); drop --gate-head")
    if options.routing or options.gate_head:
        model.set_routing(options.routing or model.routing, options.gate_head, options.escalate)
    manifest = model.bundle.manifest
    target = Target(**{k: v for k, v in manifest["target"].items() if k in Target.__dataclass_fields__})
    if options.telemetry is not None:
        target.telemetry = options.telemetry
    policy = target.controller_policy(slo_ms=options.slo_ms)
    telemetry = Telemetry([TELEMETRY[s["source"]](s) for s in target.telemetry]) if target.telemetry else None
    poller = BackgroundPoller(telemetry.read, policy.telemetry_period_s) if telemetry else None
    costs = _costs(model)
    controller = WidthController(costs, policy, telemetry=poller)
    used, latencies, correct, labelled, misses = Counter(), [], 0, 0, 0
    started = last_status = time.perf_counter()
    switches, previous, predictions, interrupted = 0, controller.rung, [], False
    classes = manifest.get("classes") or []
    if on_start:
        on_start(model)
    try:
        for count, (image, label, name) in enumerate(frames_from(options.input, model.bundle, classes), 1):
            model.set_width(controller.rung)  # a gated bundle: the widest the gate may pick
            logits = model(preprocess(image, manifest["input"]))
            used[model.last_width] += 1
            latencies.append(model.last_ms)
            misses += policy.slo_ms is not None and model.last_ms > policy.slo_ms
            if label is not None:
                labelled += 1
                correct += int(np.argmax(logits) == label)
            if name is not None:
                best = int(np.argmax(logits))
                predictions.append({"input": name, "class": classes[best] if best < len(classes) else str(best),
                                    "score": round(float(logits[0, best]), 4), "width": model.last_width})
                if on_prediction:
                    on_prediction(predictions[-1])
            rung = controller.step(model.last_ms)
            switches += rung != previous
            previous = rung
            now = time.perf_counter()
            if status and now - last_status >= 0.25:
                last_status = now
                status(_status(model, controller.reading, latencies, count, now - started))
            if options.frames and count >= options.frames or options.seconds and now - started >= options.seconds:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if poller:
            poller.close()
    elapsed = time.perf_counter() - started
    frames = sum(used.values())
    return {"bundle": str(model.bundle.path), "backend": model.backend, "routing": model.routing, "frames": frames,
            "seconds": round(elapsed, 2), "fps": round(frames / max(elapsed, 1e-9), 1), "slo_ms": policy.slo_ms,
            "miss_rate_pct": round(100.0 * misses / max(1, frames), 3) if policy.slo_ms else None,
            "p50_ms": round(float(np.median(latencies)), 4) if latencies else None,
            "switches": switches, "time_per_width_pct": {w: round(100.0 * used[w] / max(1, frames), 2)
                                                         for w in model.widths},
            "top1": round(100.0 * correct / labelled, 2) if labelled else None,
            "telemetry": [s["source"] for s in target.telemetry], "last_reading": _reading(controller.reading),
            "interrupted": interrupted, **({"predictions": predictions} if options.input and predictions else {})}


def demo_parser(doc: str) -> argparse.ArgumentParser:
    """The options every board demo shares (bundle, input, replay, SLO, duration); ``doc``: the demo's docstring
    (its first paragraph describes it, the rest is shown as examples)."""
    summary, _, rest = doc.strip().partition("\n\n")
    parser = argparse.ArgumentParser(description=textwrap.fill(" ".join(summary.split()), 100), epilog=rest,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bundle")
    parser.add_argument("--input", help="camera[:N], an image folder, or nothing for the bundle's own test samples")
    parser.add_argument("--replay", help="replay a telemetry trace instead of reading the board's sensors")
    parser.add_argument("--replay-speed", type=float, default=60.0, help="trace seconds per second (default 60)")
    parser.add_argument("--slo-ms", type=float, help="latency target per frame (default: the bundle's target)")
    parser.add_argument("--seconds", type=float, default=30.0)
    return parser


def run_demo(args: argparse.Namespace, board_sources: list[dict]) -> int:
    """Run the live loop with the board's telemetry (or ``--replay``), a status line on stderr, the summary as
    JSON on stdout; a user mistake is one line and exit status 2."""
    sources = ([{"source": "replay", "path": args.replay, "loop": True, "speed": args.replay_speed}]
               if args.replay else board_sources)
    try:
        options = LiveOptions(input=args.input, telemetry=sources, slo_ms=args.slo_ms, seconds=args.seconds)
        summary = live(args.bundle, options, on_start=lambda m: print(started_line(m), file=sys.stderr, flush=True),
                       status=lambda s: print("\r" + status_line(s), end="", file=sys.stderr, flush=True))
    except EdgeslimError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the loop started (while opening the bundle)
        print("\ndemo: interrupted", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 130 if summary["interrupted"] else 0


def _costs(model: DynamicModel) -> list[float]:
    """Relative cost of each width for the controller's step-up prediction: measured p50 if the bundle was
    profiled on this backend, else MFLOPs."""
    from edgeslim.device.profile import load_profile

    try:
        measured = {w["name"]: w["p50_ms"] for w in load_profile(model.bundle.path, backend=model.backend)["widths"]}
        costs = [measured[w] for w in model.widths]
        if costs == sorted(costs):
            return costs
    except (EdgeslimError, KeyError):
        pass
    widths = {w["name"]: w for w in model.bundle.widths}
    return [widths[w]["mflops"] for w in model.widths]


def started_line(model: DynamicModel) -> str:
    return (f"running {model.bundle.path} on {model.backend} ({len(model.widths)} widths, {model.threads} threads); "
            "Ctrl-C stops and prints the summary")


def status_line(s: dict) -> str:
    """One status line: width, latency, fps, temperature, battery, throttling."""
    temperature = f"{s['temperature_c']:.1f} °C" if s["temperature_c"] is not None else "- °C"
    battery = f"{s['battery_pct']:.0f} %" if s["battery_pct"] is not None else "- %"
    power = f"  {s['power_w']:.2f} W" if s.get("power_w") is not None else ""
    cap = f" ({s['routing']}, ≤ {s['cap']})" if "cap" in s else ""
    return (f"width {s['width']}{cap}  {s['p50_ms']:.3f} ms  {s['fps']:.0f} fps  {temperature}  "
            f"battery {battery}{power}"
            f"{'  throttled' if s['throttled'] else ''}  frames {s['frames']}")


def _reading(reading: Reading | None) -> dict | None:
    return None if reading is None else {k: v for k, v in vars(reading).items() if v is not None}


def _status(model: DynamicModel, reading: Reading | None, latencies: list[float], count: int, elapsed: float) -> dict:
    recent = latencies[-50:]
    cap = {"cap": model.width, "routing": model.routing} if model.routing != "fixed" else {}
    return {"width": model.last_width, **cap, "p50_ms": float(np.median(recent)), "frames": count,
            "fps": count / elapsed,
            "temperature_c": reading.temperature_c if reading else None,
            "battery_pct": reading.battery_pct if reading else None,
            "throttled": reading.throttled if reading else None,
            "power_w": reading.power_w if reading else None}
