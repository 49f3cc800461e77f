"""The device side on one bundle, as a board runs it (torch-free): open, every width on the bundle's samples,
profile, simulate both shipped traces, the Raspberry Pi demo in replay (in this process). Prints one JSON object
(logits per width, the steps' results and wall times) — run it on x86 and under an emulated ARM64 to compare.

    python bench/device_check.py BUNDLE [--backend tflite]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--backend", default="tflite")
    args = parser.parse_args()

    import numpy as np

    import edgeslim

    seconds = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # a copy: profile writes into the bundle
        import shutil

        bundle = Path(tmp) / "bundle"
        shutil.copytree(args.bundle, bundle)
        model = edgeslim.DynamicModel.open(bundle, backend=args.backend, threads=1)
        seconds["open"] = time.perf_counter() - started
        x, y = model.bundle.samples()
        logits = {}
        for width in model.widths:
            model.set_width(width)
            logits[width] = model.predict(x).tolist()
        top1 = {w: float((np.argmax(v, 1) == y).mean()) for w, v in logits.items()}
        seconds["run"] = time.perf_counter() - started - seconds["open"]
        mark = time.perf_counter()
        profile = edgeslim.profile(bundle, runs=20, warmup=2, backend=args.backend, threads=1)
        seconds["profile"] = time.perf_counter() - mark
        mark = time.perf_counter()
        simulated = {trace: edgeslim.simulate(bundle, trace).policies["controller"]
                     for trace in ("throttling-ramp", "battery-drain")}
        seconds["simulate"] = time.perf_counter() - mark
        mark = time.perf_counter()
        sys.path.insert(0, str(ROOT / "apps" / "rpi"))
        import demo as rpi_demo  # in this process: an emulated interpreter cannot start another by itself

        from edgeslim.device.live import demo_parser, run_demo

        printed = io.StringIO()
        demo_args = demo_parser(rpi_demo.__doc__).parse_args([str(bundle), "--replay", "throttling-ramp",
                                                              "--replay-speed", "400", "--seconds", "2"])
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            demo_exit = run_demo(demo_args, rpi_demo.pi_sources(None))
        seconds["demo"] = time.perf_counter() - mark
    print(json.dumps({"machine": platform.machine(), "python": platform.python_version(),
                      "numpy": np.__version__, "backend": args.backend, "widths": model.widths,
                      "logits": logits, "top1": top1, "profile_p50_ms": profile.p50_ms(),
                      "simulate": simulated, "demo_exit": demo_exit,
                      "demo_frames": json.loads(printed.getvalue())["frames"] if demo_exit == 0 else None,
                      "seconds": {k: round(v, 2) for k, v in seconds.items()}}))


if __name__ == "__main__":
    main()
