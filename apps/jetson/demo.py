"""Jetson demo: a camera (or images) through an edgeslim bundle, the width following the SoC temperature and
the INA3221 power rails (Jetson Orin / Xavier / Nano).

    python apps/jetson/demo.py BUNDLE [--input camera|DIR] [--slo-ms 20] [--seconds 60]
    python apps/jetson/demo.py BUNDLE --replay calibration/trace-throttling-ramp.csv   # anywhere, e.g. on x86

Uses only the torch-free device install (numpy, tflite-runtime or ai-edge-litert, psutil).
"""

from __future__ import annotations

import argparse
import json
import sys

from edgeslim.errors import EdgeslimError
from edgeslim.live import LiveOptions, live, status_line


def telemetry_sources(args) -> list[dict]:
    """The Jetson's thermal zones and INA3221 rails, or a recorded trace when ``--replay`` is given."""
    if args.replay:
        return [{"source": "replay", "path": args.replay, "loop": True, "speed": args.replay_speed}]
    return [{"source": "thermal"}, {"source": "jetson_rails"}, {"source": "cpufreq"}]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--input", help="camera[:N] (OpenCV / GStreamer), an image folder, or nothing for the "
                                        "bundle's own test samples")
    parser.add_argument("--replay", help="replay a telemetry trace instead of reading the Jetson's sensors")
    parser.add_argument("--replay-speed", type=float, default=60.0, help="trace seconds per second (default 60)")
    parser.add_argument("--slo-ms", type=float, help="latency target per frame (default: the bundle's target)")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    options = LiveOptions(input=args.input, telemetry=telemetry_sources(args), slo_ms=args.slo_ms,
                          seconds=args.seconds)

    def status(s: dict) -> None:
        print("\r" + status_line(s), end="", file=sys.stderr, flush=True)

    try:
        summary = live(args.bundle, options, status=status)
    except EdgeslimError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
