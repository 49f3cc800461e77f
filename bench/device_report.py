"""Device-side figures: profile on the x86 emulator, width-switch time, controller overhead, and the simulate
table (controller vs always-largest / always-smallest / oracle) on both shipped traces.

    python bench/device_report.py [--run RUN_DIR] [--device-python .venv-device/bin/python] [--runs 500]

Without --run it trains ResNet-20 with PSS on mnist5k (28x28, 10 epochs: searched non-uniform sub-nets).
The bundle is built for x86-emu; profiling, switching and the live loop run in the torch-free device
environment (tflite-runtime, the emulator). The SLO for the simulation is 1.5x the p90 of the largest width:
met unthrottled, missed when the trace throttles (x2). Writes bench/reports/device_runtime.md and the plots.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
REPORTS = ROOT / "reports"
TRACES = [ROOT.parent / "calibration" / f"trace-{n}.csv" for n in ("throttling-ramp", "battery-drain")]

SWITCH = """
import json, sys, time, random
import numpy as np
from edgeslim.device.runtime import DynamicModel
model = DynamicModel.open(sys.argv[1], backend="tflite", threads=2)
x = np.zeros(model.input_shape, np.float32)
steady = {}
for w in model.widths * 2:  # the first pass warms caches and clocks, the second measures
    model.set_width(w)
    steady[w] = float(np.median([model(x) is not None and model.last_ms for _ in range(300)]))
rng = random.Random(0)
switch_us, extra_ms = [], []
for _ in range(int(sys.argv[2])):
    w = rng.choice([v for v in model.widths if v != model.width])
    t0 = time.perf_counter()
    model.set_width(w)
    t1 = time.perf_counter()
    model(x)
    switch_us.append((t1 - t0) * 1e6)
    extra_ms.append(model.last_ms - steady[w])
q = lambda a, p: float(np.percentile(a, p))
print(json.dumps({"set_width_us": {"p50": q(switch_us, 50), "p99": q(switch_us, 99)},
                  "first_call_after_switch_minus_steady_ms": {"p50": q(extra_ms, 50), "p99": q(extra_ms, 99)},
                  "open_ms": {"rebuild_artifact": model.materialize_ms, "init": model.init_ms},
                  "first_run_ms": model.first_run_ms, "steady_p50_ms": steady}))
"""


def sh(*args: str) -> str:
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode:
        sys.exit(f"{' '.join(args[:4])} failed:\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a trained run directory (default: train one)")
    parser.add_argument("--device-python", default=str(ROOT.parent / ".venv-device" / "bin" / "python"))
    parser.add_argument("--runs", type=int, default=500)
    args = parser.parse_args()
    REPORTS.mkdir(parents=True, exist_ok=True)
    edgeslim = [sys.executable, "-m", "edgeslim"]
    device = [args.device_python, "-m", "edgeslim"]
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run
        if run is None:
            run = str(Path(tmp) / "run")
            sh(*edgeslim, "train", "--data", "mnist5k", "--method", "pss", "--epochs", "10", "--out", run)
        info = json.loads((Path(run) / "run.json").read_text())
        provenance = (f"ResNet-20 ({info['model']}), `--method {info['method']}` on {info['data']}, "
                      f"{info['options']['epochs']} supernet epochs, seed {info['options']['seed']}")
        bundle = str(Path(tmp) / "bundle")
        sh(*edgeslim, "build", run, "--target", "x86-emu", "--backends", "tflite,executorch", "--out", bundle)
        profile = json.loads(sh(*device, "profile", bundle, "--runs", str(args.runs), "--threads", "2",
                                "--device-name", "x86-emu-tflite-runtime", "--json"))
        et_profile = json.loads(sh(*edgeslim, "profile", bundle, "--backend", "executorch", "--runs", str(args.runs),
                                   "--threads", "2", "--device-name", "x86-executorch", "--json"))
        switch = json.loads(sh(args.device_python, "-c", SWITCH, bundle, "5000"))
        overhead = sh(sys.executable, str(ROOT / "controller_overhead.py"), "--steps", "100000")
        slo = round(1.5 * profile["widths"][-1]["p90_ms"], 4)
        simulations = {}
        for trace in TRACES:
            plot = REPORTS / f"simulate_{trace.stem}.png"
            simulations[trace.stem] = json.loads(sh(*device, "simulate", bundle, "--trace", str(trace), "--slo-ms",
                                                    str(slo), "--profile", "x86-emu-tflite-runtime", "--json"))
            sh(*edgeslim, "simulate", bundle, "--trace", str(trace), "--slo-ms", str(slo), "--profile",
               "x86-emu-tflite-runtime", "--plot", str(plot))
    text = report(provenance, profile, et_profile, switch, overhead, slo, simulations)
    (REPORTS / "device_runtime.md").write_text(text)
    print(text)


def _step_us(overhead_table: str) -> float:
    """Mean µs per controller step, with telemetry (the last row of controller_overhead.py's table)."""
    return float(overhead_table.strip().splitlines()[-1].split("|")[2])


def report(provenance, profile, et_profile, switch, overhead, slo, simulations) -> str:
    lines = ["# Device runtime report (x86 emulator)", "",
             f"`python bench/device_report.py` · {provenance}; bundle for x86-emu; batch 1, 2 threads; "
             "nothing else running.", ""]
    for p, what in ((profile, "tflite-runtime 2.14 in the torch-free device venv"),
                    (et_profile, "ExecuTorch 1.5.1 XNNPACK in the host venv")):
        lines += [f"## `edgeslim profile` — {p['backend']} ({what}), {p['runs']} runs per width, random order "
                  f"{', '.join(p['order'])}", "",
                  f"Load: import the runtime {p['load_ms']['import_runtime']:.0f} ms (once per process), rebuild "
                  f"artifact from skeleton + blob {p['load_ms']['rebuild_artifact']:.1f} ms, interpreter init "
                  f"{p['load_ms']['init']:.1f} ms; peak RSS {p['peak_rss_mb']:.0f} MB.", "",
                  "| width | MFLOPs | top-1 % | first run ms | p50 ms | p90 ms | p99 ms |",
                  "|---|---|---|---|---|---|---|"]
        for w in p["widths"]:
            lines.append(f"| {w['name']} | {w['mflops']:.2f} | {w['top1']} | {w['first_run_ms']:.2f} | "
                         f"{w['p50_ms']:.3f} | {w['p90_ms']:.3f} | {w['p99_ms']:.3f} |")
        lines.append("")
    s = switch
    lines += ["## Width switch (5000 random switches, tflite-runtime)", "",
              f"- `set_width` alone: p50 {s['set_width_us']['p50']:.2f} µs, p99 {s['set_width_us']['p99']:.2f} µs",
              f"- first inference after a switch minus that width's steady-state median: p50 "
              f"{s['first_call_after_switch_minus_steady_ms']['p50']:.3f} ms, p99 "
              f"{s['first_call_after_switch_minus_steady_ms']['p99']:.3f} ms",
              "- every width is prepared when the bundle opens (first runs above are paid there), so a switch "
              "never reloads or re-materializes anything", "",
              "## Controller overhead (`bench/controller_overhead.py --steps 100000`)", "", overhead.strip(), "",
              f"Smallest width p50 on this machine: {profile['widths'][0]['p50_ms']:.3f} ms (tflite-runtime), "
              f"{et_profile['widths'][0]['p50_ms']:.3f} ms (ExecuTorch): the controller costs "
              f"{100 * _step_us(overhead) / 1000 / et_profile['widths'][0]['p50_ms']:.2f} % of the faster one.", "",
              f"## `edgeslim simulate` — SLO {slo} ms (1.5x p90 of the largest width), 30 fps, latency +2 %/°C "
              "above 60 °C, at least x2 while throttled", ""]
    for trace, result in simulations.items():
        lines += [f"### {trace} ({result['frames']} frames)", "",
                  "| policy | deadline misses % | mean top-1 % | switches/min | time per width % |",
                  "|---|---|---|---|---|"]
        for name, r in result["policies"].items():
            share = " ".join(f"{w}:{v:.0f}" for w, v in r["time_per_width_pct"].items())
            lines.append(f"| {name} | {r['miss_rate_pct']:.2f} | {r['mean_top1']:.2f} | "
                         f"{r['switches_per_min']:.1f} | {share} |")
        gap = result["policies"]["oracle"]["mean_top1"] - result["policies"]["controller"]["mean_top1"]
        lines += ["", f"Controller vs oracle: {gap:.2f} points below, "
                      f"{result['policies']['controller']['miss_rate_pct']:.2f} % misses. "
                      f"Plot: simulate_{trace}.png", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
