"""Import cost of the public API: `import edgeslim` and the device runtime, in the host and the torch-free device
environment (best of N fresh processes), and what each import pulls in.

    python bench/import_time.py [--runs 7] [--device-python .venv-device/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys, time
t0 = time.perf_counter(); import edgeslim; t1 = time.perf_counter()
from edgeslim import DynamicModel; t2 = time.perf_counter()
DynamicModel.open  # noqa
from edgeslim.backends import BACKENDS
BACKENDS["tflite"].load_engine().load_runtime(); t3 = time.perf_counter()
print(json.dumps({"import edgeslim": 1e3 * (t1 - t0), "edgeslim.DynamicModel": 1e3 * (t2 - t1),
                  "TFLite interpreter": 1e3 * (t3 - t2), "torch loaded": "torch" in sys.modules}))
"""


def measure(python: str, runs: int) -> dict:
    samples = [json.loads(subprocess.run([python, "-c", PROBE], capture_output=True, text=True, check=True,
                                         cwd=ROOT).stdout) for _ in range(runs)]
    return {k: (min(s[k] for s in samples) if isinstance(samples[0][k], float) else samples[0][k])
            for k in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--device-python", default=str(ROOT / ".venv-device" / "bin" / "python"))
    args = parser.parse_args()
    envs = {"host (.venv)": sys.executable}
    if Path(args.device_python).exists():
        envs["device (.venv-device, no torch)"] = args.device_python
    print(f"best of {args.runs} fresh processes, ms")
    print("| environment | import edgeslim | + edgeslim.DynamicModel | + TFLite interpreter | torch loaded |")
    print("|---|---|---|---|---|")
    for name, python in envs.items():
        r = measure(python, args.runs)
        print(f"| {name} | {r['import edgeslim']:.1f} | {r['edgeslim.DynamicModel']:.1f} | "
              f"{r['TFLite interpreter']:.1f} | {r['torch loaded']} |")
    cli = sum(len(p.read_text().splitlines()) for p in (ROOT / "edgeslim" / "cli").glob("*.py"))
    commands = len((ROOT / "edgeslim" / "cli" / "commands.py").read_text().splitlines())
    print(f"\nCLI: {cli} lines in edgeslim/cli/ ({commands} in commands.py)")


if __name__ == "__main__":
    main()
