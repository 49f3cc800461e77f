"""The device side on an emulated ARM64 against x86: the same bundles through ``bench/device_check.py`` in the
torch-free device environment and under qemu-user (Debian's arm64 Python 3.11, aarch64 wheels of tflite-runtime
2.14 and numpy 1.26; ``bash .ci/arm64-env`` prepares ``.arm64/``); prints max |Δ logits| and top-1 per width,
wall times per step.

    python bench/arm64_report.py BUNDLE [BUNDLE ...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ARM64 = ROOT / ".arm64"


def arm64_python() -> list[str]:
    """The command that runs the emulated aarch64 interpreter with the device install."""
    return ["qemu-aarch64-static", "-L", str(ARM64 / "sysroot"), "-E", f"PYTHONPATH={ARM64 / 'site'}:{ROOT}",
            str(ARM64 / "sysroot" / "usr" / "bin" / "python3.11")]


def device_check(python: list[str], bundle: Path) -> dict:
    done = subprocess.run([*python, str(ROOT / "bench" / "device_check.py"), str(bundle)], capture_output=True,
                          text=True, timeout=1800, cwd=ROOT)
    if done.returncode:
        raise RuntimeError(f"{' '.join(python[:1])} device check failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)


def compare(x86: dict, arm: dict) -> list[dict]:
    """Per width: max |Δ logits| over the samples and both top-1s."""
    return [{"width": w, "max_abs_diff": float(np.abs(np.array(x86["logits"][w]) - np.array(arm["logits"][w])).max()),
             "logit_scale": float(np.abs(np.array(x86["logits"][w])).max()),
             "top1_x86": x86["top1"][w], "top1_arm64": arm["top1"][w]} for w in x86["widths"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+")
    parser.add_argument("--device-python", default=str(ROOT / ".venv-device" / "bin" / "python"))
    args = parser.parse_args()
    if not (ARM64 / ".ready").is_file():
        sys.exit("no emulated ARM64 environment: run `bash .ci/arm64-env` first")
    for bundle in map(Path, args.bundles):
        x86, arm = device_check([args.device_python], bundle), device_check(arm64_python(), bundle)
        print(f"\n## {bundle.name}: {arm['machine']} (qemu-user, Python {arm['python']}, numpy {arm['numpy']}) vs "
              f"{x86['machine']}, {arm['backend']}, {len(next(iter(arm['logits'].values())))} sample images")
        print("| width | max abs Δ logits | max abs logit | relative | top-1 x86 | top-1 arm64 |\n"
              "|---|---|---|---|---|---|")
        for r in compare(x86, arm):
            print(f"| {r['width']} | {r['max_abs_diff']:.2e} | {r['logit_scale']:.3g} | "
                  f"{r['max_abs_diff'] / max(r['logit_scale'], 1e-12):.1e} | {100 * r['top1_x86']:.1f} | "
                  f"{100 * r['top1_arm64']:.1f} |")
        print("| step | x86 s | arm64 (emulated) s |\n|---|---|---|")
        for step in arm["seconds"]:
            print(f"| {step} | {x86['seconds'][step]:.2f} | {arm['seconds'][step]:.2f} |")
        print(f"demo frames in 2 s: x86 {x86['demo_frames']}, arm64 {arm['demo_frames']}; profile p50 (ms) arm64 "
              f"{arm['profile_p50_ms']}")


if __name__ == "__main__":
    main()
