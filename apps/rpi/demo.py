"""Raspberry Pi demo: a camera (or images) through an edgeslim bundle, the width following the Pi's temperature,
throttling flags and (optionally) a USB power meter.

    python apps/rpi/demo.py BUNDLE [--input camera|DIR] [--meter um:/dev/rfcomm0] [--slo-ms 50] [--seconds 60]
    python apps/rpi/demo.py BUNDLE --replay calibration/trace-throttling-ramp.csv   # anywhere, e.g. on x86

Uses only the torch-free device install (numpy, tflite-runtime or ai-edge-litert, pyserial, psutil).
"""

from __future__ import annotations

import sys

from edgeslim.device.live import demo_parser, run_demo


def pi_sources(meter: str | None) -> list[dict]:
    """Thermal zones, the firmware's throttling flags (vcgencmd), cpufreq caps, and a USB meter if given."""
    sources = [{"source": "thermal"}, {"source": "vcgencmd"}, {"source": "cpufreq"}]
    if meter:
        kind, _, url = meter.partition(":")
        sources.append({"source": "um_meter" if kind == "um" else "serial_csv", "url": url})
    return sources


if __name__ == "__main__":
    parser = demo_parser(__doc__)
    parser.add_argument("--meter", help="um:/dev/rfcomm0 (UM25C over Bluetooth serial) or csv:/dev/ttyACM0 (INA219)")
    args = parser.parse_args()
    sys.exit(run_demo(args, pi_sources(args.meter)))
