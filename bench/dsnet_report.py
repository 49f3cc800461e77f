"""DS-Net++ gated width: accuracy vs average MACs, and real batch-1 latency through the exported bundle.

    python bench/dsnet_report.py [--datasets digits,mnist5k] [--epochs 30,12] [--workdir DIR] [--out REPORT.md]

Per dataset: trains `usnet` and `dsnet` (same model, epochs, seed), then reports
1. accuracy vs MACs: every gate head (complexity weight) against the dsnet run's static widths and against usnet,
   as the top-1 gain at equal average MACs (linear interpolation of the static curves);
2. latency: the dsnet run built for x86 (TFLite and ExecuTorch, XNNPACK, 1 thread), every test image one at a
   time: mean latency of gated inference (gate program included, its share reported) against the static width
   of equal accuracy (interpolated along the ladder), and the efficiency of the saving:
   (1 - ms_gated / ms_equal) / (1 - MACs_gated / MACs_equal), goal >= 0.8.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "edgeslim", *args], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"edgeslim {' '.join(args)} failed:\n{result.stderr[-2000:]}")


def interp(x: float, xs: list[float], ys: list[float]) -> float:
    order = np.argsort(xs)
    return float(np.interp(x, np.asarray(xs)[order], np.asarray(ys)[order]))


def equal_accuracy(top1: float, ladder: list[dict]) -> tuple[float, float] | None:
    """(MFLOPs, ms) of the static width of equal accuracy: along the ladder (cheapest first), between the last
    width below ``top1`` and the first at or above it. None if no width is as accurate."""
    for i, w in enumerate(ladder):
        if w["top1"] >= top1:
            if i == 0:
                return w["mflops"], w["ms"]
            a = ladder[i - 1]
            t = (top1 - a["top1"]) / max(w["top1"] - a["top1"], 1e-9)
            return a["mflops"] + t * (w["mflops"] - a["mflops"]), a["ms"] + t * (w["ms"] - a["ms"])
    return None


def measure_latency(bundle: Path, backend: str, x: np.ndarray, y: np.ndarray, heads: list[str]) -> dict:
    from edgeslim.runtime import DynamicModel

    model = DynamicModel.open(bundle, backend=backend, threads=1)
    result = {"widths": {}, "heads": {}}
    model.set_routing("fixed")
    for width in model.widths * 2:  # the first pass warms caches, the second measures
        model.set_width(width)
        times = []
        for image in x:
            model(image[None])
            times.append(model.last_ms)
        result["widths"][width] = float(np.mean(times))
    model.set_width(model.widths[-1])
    for head in heads * 2:
        model.set_routing("gate", head)
        times, gate_times, correct = [], [], 0
        for image, label in zip(x, y):
            logits = model(image[None])
            times.append(model.last_ms)
            gate_times.append(model.last_gate_ms)
            correct += int(np.argmax(logits) == label)
        result["heads"][head] = {"ms": float(np.mean(times)), "gate_ms": float(np.mean(gate_times)),
                                 "top1": 100.0 * correct / len(x)}
    return result


def run_case(data: str, epochs: int, workdir: Path) -> dict:
    from edgeslim.build.builder import validation_data

    runs = {}
    for method in ("usnet", "dsnet"):
        out = workdir / f"{data}-{method}"
        if not (out / "run.json").is_file():
            started = time.time()
            cli("train", "--data", data, "--method", method, "--epochs", str(epochs), "--out", str(out), "--force")
            print(f"trained {data} {method} in {time.time() - started:.0f} s", file=sys.stderr)
        runs[method] = json.loads((out / "run.json").read_text())
    bundle = workdir / f"{data}-dsnet-bundle"
    if not (bundle / "manifest.json").is_file():
        cli("build", str(workdir / f"{data}-dsnet"), "--target", "x86-emu", "--backends", "tflite,executorch",
            "--out", str(bundle), "--force")
    ds, us = runs["dsnet"], runs["usnet"]
    static = [{"name": c["name"], **c["meta"]} for c in ds["configs"]]
    usnet = [{"name": c["name"], **c["meta"]} for c in us["configs"]]
    heads = ds["gate"]["heads"]
    accuracy = []
    for h in heads:
        accuracy.append({"head": h["name"], "complexity_weight": h["complexity_weight"], "top1": h["top1"],
                         "mflops": h["mflops"], "share": h["share"],
                         "gain_vs_static": round(h["top1"] - interp(h["mflops"], [s["mflops"] for s in static],
                                                                     [s["top1"] for s in static]), 2),
                         "gain_vs_usnet": round(h["top1"] - interp(h["mflops"], [s["mflops"] for s in usnet],
                                                                    [s["top1"] for s in usnet]), 2)})
    x, y = validation_data(ds, 0)
    latency = {}
    for backend in ("tflite", "executorch"):
        measured = measure_latency(bundle, backend, x, y, [h["name"] for h in heads])
        ladder = [{**s, "ms": measured["widths"][s["name"]]} for s in static]
        rows = []
        for h in heads:
            m = measured["heads"][h["name"]]
            row = {"head": h["name"], "top1": round(m["top1"], 2), "mflops": h["mflops"], "ms": round(m["ms"], 4),
                   "gate_ms": round(m["gate_ms"], 4)}
            eq = equal_accuracy(m["top1"], ladder)
            if eq is not None:
                macs_saving, ms_saving = 1 - h["mflops"] / eq[0], 1 - m["ms"] / eq[1]
                row.update(equal_mflops=round(eq[0], 4), equal_ms=round(eq[1], 4),
                           macs_saving=round(macs_saving, 4), ms_saving=round(ms_saving, 4),
                           efficiency=round(ms_saving / macs_saving, 2) if macs_saving > 0.01 else None)
            rows.append(row)
        latency[backend] = {"widths": {s["name"]: round(s["ms"], 4) for s in ladder}, "heads": rows}
    return {"data": data, "epochs": epochs, "test_images": len(x), "static": static, "usnet": usnet,
            "accuracy": accuracy, "latency": latency, "gate_mflops": ds["gate"]["gate_mflops"],
            "default_head": ds["gate"]["default"]}


def report(cases: list[dict]) -> str:
    lines = ["# DS-Net++ gated width (resnet20): accuracy vs MACs and real latency", "",
             "Produced by `python bench/dsnet_report.py`; x86 (2 cores), batch 1, 1 thread, every test image once.",
             ""]
    for c in cases:
        lines += [f"## {c['data']} ({c['epochs']} epochs, {c['test_images']} test images)", "",
                  "| sub-net | MFLOPs | top-1 % |", "|---|---:|---:|"]
        lines += [f"| usnet {s['name']} | {s['mflops']:.3f} | {s['top1']:.2f} |" for s in c["usnet"]]
        lines += [f"| dsnet static {s['name']} | {s['mflops']:.3f} | {s['top1']:.2f} |" for s in c["static"]]
        lines += ["", "| gate head (complexity weight) | avg MFLOPs | top-1 % | widths chosen | gain vs static, "
                  "equal MACs | gain vs usnet, equal MACs |", "|---|---:|---:|---|---:|---:|"]
        for a in c["accuracy"]:
            share = " · ".join(f"{100 * s:.0f}% {w['name']}" for s, w in zip(a["share"], c["static"]) if s)
            lines.append(f"| {a['head']} ({a['complexity_weight']:g}) | {a['mflops']:.3f} | {a['top1']:.2f} | {share} "
                         f"| {a['gain_vs_static']:+.2f} | {a['gain_vs_usnet']:+.2f} |")
        for backend, lat in c["latency"].items():
            widths = ", ".join(f"{w} {ms:.3f}" for w, ms in lat["widths"].items())
            lines += ["", f"**{backend}** static widths (gate program + remainder), mean ms: {widths}", "",
                      "| head | top-1 % | mean ms | gate ms | static of equal top-1: MFLOPs / ms | MACs saving | "
                      "latency saving | efficiency |", "|---|---:|---:|---:|---|---:|---:|---:|"]
            for r in lat["heads"]:
                eq = f"{r['equal_mflops']:.3f} / {r['equal_ms']:.3f}" if "equal_ms" in r else "none as accurate"
                eff = r.get("efficiency")
                lines.append(f"| {r['head']} | {r['top1']:.2f} | {r['ms']:.3f} | {r['gate_ms']:.3f} | {eq} | "
                             f"{100 * r.get('macs_saving', 0):.1f} % | {100 * r.get('ms_saving', 0):.1f} % | "
                             f"{'-' if eff is None else f'{eff:.2f}'} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="digits,mnist5k")
    parser.add_argument("--epochs", default="30,12", help="per dataset")
    parser.add_argument("--workdir", default="runs/bench-dsnet")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "dsnet.md"))
    args = parser.parse_args()
    datasets = args.datasets.split(",")
    epochs = [int(e) for e in args.epochs.split(",")]
    epochs += [epochs[-1]] * (len(datasets) - len(epochs))
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cases = [run_case(d, e, workdir) for d, e in zip(datasets, epochs)]
    text = report(cases)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(cases, indent=1))
    print(text)


if __name__ == "__main__":
    main()
