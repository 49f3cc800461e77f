"""Jetson demo: a camera (or images) through an edgeslim bundle, the width following the SoC temperature and
the INA3221 power rails (Jetson Orin / Xavier / Nano).

    python apps/jetson/demo.py BUNDLE [--input camera|DIR] [--slo-ms 20] [--seconds 60]
    python apps/jetson/demo.py BUNDLE --replay calibration/trace-throttling-ramp.csv   # anywhere, e.g. on x86

Uses only the torch-free device install (numpy, tflite-runtime or ai-edge-litert, psutil).
"""

from __future__ import annotations

import sys

from edgeslim.device.live import demo_parser, run_demo

# Thermal zones, the INA3221 rails under /sys/class/hwmon (total power in the status line), cpufreq caps.
JETSON_SOURCES = [{"source": "thermal"}, {"source": "jetson_rails"}, {"source": "cpufreq"}]

if __name__ == "__main__":
    sys.exit(run_demo(demo_parser(__doc__).parse_args(), JETSON_SOURCES))
