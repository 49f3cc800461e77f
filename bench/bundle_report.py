"""Bundle figures for `edgeslim build`: bytes, latency vs standalone exports, numerical agreement, build time.

    python bench/bundle_report.py [--runs 400] [--threads 2] [--cases digits,digits32,digits32-resnet18]

Cases: ``digits`` (ResNet-20 on 8x8 digits), ``digits32`` (ResNet-20 on the digits upsampled to 32x32 RGB,
the CIFAR input shape: a ResNet-20-class model at its usual size) and ``digits32-MODEL`` (any built-in at 32x32,
1 epoch, e.g. ``digits32-resnet18``, 0.56 GFLOPs, where per-op overheads no longer dominate the smallest width,
or ``digits32-ghostnet`` and ``digits32-regnetx_200mf`` for concats and grouped convs).
Each case trains a short US-Nets run (accuracy is not the point here), times `edgeslim build --target x86-emu`
(3 backends x 4 widths), exports every width alone as the standalone reference, and measures batch-1 latency
(median of ``--runs`` interleaved calls).
Writes bench/reports/bundle_<case>.md and bench/results/bundle_<case>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from edgeslim.backends import BACKENDS
from edgeslim.device.bundle import open_bundle
from edgeslim.device.runtime import DynamicModel
from edgeslim.host.compile.coreml import export_coreml
from edgeslim.host.compile.exporters import ExportJob, export_executorch, export_tflite
from edgeslim.host.compile.folding import blob_tensors, folded_width
from edgeslim.host.compile.validate import validate, validation_data
from edgeslim.host.runs import load_run
from edgeslim.quiet import quiet

ROOT = Path(__file__).resolve().parent
RESULTS, REPORTS = ROOT / "results", ROOT / "reports"


def cli(*args: str) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "edgeslim", *args], capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr)
    return time.perf_counter() - started


def digits32(path: Path) -> str:
    """The digits upsampled to 32x32 and copied to 3 channels (an .npz for --data npz:PATH)."""
    if not path.exists():
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = np.kron(digits.images / 16.0, np.ones((4, 4)))[..., None].repeat(3, -1).astype(np.float32)
        np.savez(path, x=x, y=digits.target)
    return f"npz:{path}"


def latency_ms(run_fn, x: np.ndarray, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run_fn(x)
        times.append((time.perf_counter() - started) * 1e3)
    return times


def interleaved_medians(bundle_model: DynamicModel, standalone, width: str, x, runs: int) -> tuple[float, float]:
    """Median latency of the bundle's width and of the standalone export, alternating blocks of 20 calls."""
    bundle_model.set_width(width)
    ours, alone = [], []
    for _ in range(max(1, runs // 20)):
        ours += latency_ms(bundle_model, x, 20)
        alone += latency_ms(lambda v: standalone.run(width, v), x, 20)
    return float(np.median(ours)), float(np.median(alone))


def int8_drops(run_dir: Path, workdir: Path) -> list[dict]:
    """Build the run in int8 (ExecuTorch + TFLite + Core ML) and measure every width on the whole test split."""
    bundle_dir = workdir / f"{run_dir.name}-int8"
    seconds = cli("build", str(run_dir), "--target", "x86-emu", "--precision", "int8", "--out", str(bundle_dir),
                  "--force")
    result = subprocess.run([sys.executable, "-m", "edgeslim", "validate", str(bundle_dir), "--json"],
                            capture_output=True, text=True)
    rows = json.loads(result.stdout)["rows"]
    artifacts = json.loads((bundle_dir / "manifest.json").read_text())["artifacts"]
    stored = {b: a["stored_bytes"] for b, a in artifacts.items()}
    return [{**r, "build_seconds": seconds, "stored_bytes": stored[r["backend"]]} for r in rows]


def run_case(case: str, runs: int, threads: int, workdir: Path, int8: bool = False) -> dict:
    data = "digits" if case == "digits" else digits32(RESULTS / "digits32.npz")
    arch = case.partition("-")[2] or "resnet20"
    run_dir = workdir / f"{case}-run"
    epochs = {"digits": "30", "digits32": "3"}.get(case, "1")
    cli("train", "--model", arch, "--data", data, "--method", "usnet", "--epochs", epochs, "--out", str(run_dir),
        "--force")
    bundle_dir = workdir / f"{case}-bundle"
    build_s = cli("build", str(run_dir), "--target", "x86-emu", "--out", str(bundle_dir), "--force")
    bundle = open_bundle(bundle_dir)
    manifest = bundle.manifest

    run = load_run(run_dir)
    blob = blob_tensors(run.supernet, run.configs)
    models = {c.name: folded_width(run.supernet, c, blob)[0] for c in run.configs}
    unfolded = {c.name: run.supernet.extract(c) for c in run.configs}
    example = torch.zeros(1, *run.info["input_shape"])
    standalone_bytes = {"executorch": {}, "tflite": {}, "coreml": {}}
    standalone_files = {}
    for name, model in models.items():
        for backend, suffix in (("executorch", ".pte"), ("tflite", ".tflite"), ("coreml", ".mlpackage")):
            path = workdir / f"{case}-{name}{suffix}"
            if backend == "coreml":
                export_coreml({name: unfolded[name]}, example, path, ExportJob())  # alone: its own slice
            else:
                exporter = export_executorch if backend == "executorch" else export_tflite
                exporter({name: model}, example, path, ExportJob())
            weights = path / "Data/com.apple.CoreML/weights/weight.bin" if backend == "coreml" else path
            standalone_bytes[backend][name] = weights.stat().st_size
            standalone_files[(backend, name)] = path
    full = list(models)[-1]
    rows_bytes = []
    for backend in ("executorch", "tflite", "coreml"):
        entry = manifest["artifacts"][backend]
        if backend == "coreml":
            stored = (bundle_dir / entry["stored_as"] / "Data/com.apple.CoreML/weights/weight.bin").stat().st_size
            what = "weight.bin of the multifunction package"
        else:
            stored = entry["stored_bytes"] + manifest["blob"]["bytes"]
            what = "skeleton (zlib) + shared blob"
        alone = standalone_bytes[backend][full]
        naive = sum(standalone_bytes[backend].values())
        rows_bytes.append({"backend": backend, "stored": stored, "what": what, "full_alone": alone, "naive_sum": naive,
                           "ratio_vs_full": stored / alone, "plain_all_widths": entry["bytes"]})

    x = np.random.default_rng(0).standard_normal((1, *run.info["input_shape"])).astype(np.float32)
    rows_latency = []
    for backend in ("executorch", "tflite"):
        model = DynamicModel(bundle, backend, threads)
        for width in model.widths:
            with quiet():
                engine = BACKENDS[backend].load_engine()
                alone = engine(standalone_files[(backend, width)].read_bytes(), {width: width}, threads)
                alone.run(width, x)
            ours, ref = interleaved_medians(model, alone, width, x, runs)
            mflops = next(w["mflops"] for w in manifest["widths"] if w["name"] == width)
            rows_latency.append({"backend": backend, "width": width, "mflops": mflops, "bundle_ms": ours,
                                 "standalone_ms": ref, "ratio": ours / ref,
                                 "first_run_ms": model.first_run_ms[width]})
        rows_latency[-1]["materialize_ms"] = model.materialize_ms
        rows_latency[-1]["init_ms"] = model.init_ms
    efficiency = {}
    for backend in ("executorch", "tflite"):
        rows = [r for r in rows_latency if r["backend"] == backend]
        small, big = rows[0], rows[-1]
        efficiency[backend] = (big["bundle_ms"] / small["bundle_ms"]) / (big["mflops"] / small["mflops"])

    x_eval, y_eval = validation_data(manifest["model"], 0)
    agreement = validate(bundle, x_eval, y_eval)
    int8 = int8_drops(run_dir, workdir) if int8 else []
    return {"case": case, "model": arch, "epochs": epochs, "data": data,
            "input_shape": run.info["input_shape"], "threads": threads, "runs": runs,
            "build_seconds": build_s, "bytes": rows_bytes, "latency": rows_latency,
            "speedup_efficiency_smallest": efficiency, "validation": agreement, "int8": int8}


def report(result: dict) -> str:
    c = result
    lines = [f"# Bundle report: {c['model']}, {c['case']} (input {c['input_shape']}, US-Nets {c['epochs']} epochs: "
             "latency and bytes are the point, not accuracy)", "",
             f"`python bench/bundle_report.py --cases {c['case']}` · x86_64, {c['threads']} threads, batch 1, "
             f"median of {c['runs']} interleaved calls.", "",
             f"Build wall time, `edgeslim build RUN --target x86-emu` (4 widths x 3 backends, quick validation): "
             f"**{c['build_seconds']:.1f} s**", "",
             "## Bytes", "",
             "| backend | bundle stores | bytes | full width alone | naive per-width sum | ratio vs full |",
             "|---|---|---|---|---|---|"]
    for r in c["bytes"]:
        lines.append(f"| {r['backend']} | {r['what']} | {r['stored']:,} | {r['full_alone']:,} | {r['naive_sum']:,} | "
                     f"**{r['ratio_vs_full']:.3f}x** |")
    lines += ["", "## Latency per width (ms) vs a standalone export of that width", "",
              "| backend | width | MFLOPs | bundle | standalone | ratio | first run at load |",
              "|---|---|---|---|---|---|---|"]
    for r in c["latency"]:
        lines.append(f"| {r['backend']} | {r['width']} | {r['mflops']:.3f} | {r['bundle_ms']:.3f} | "
                     f"{r['standalone_ms']:.3f} | {r['ratio']:.2f} | {r['first_run_ms']:.2f} |")
    loads = [r for r in c["latency"] if "init_ms" in r]
    lines += ["", "Load: " + "; ".join(f"{r['backend']}: rebuild artifact from skeleton + blob "
                                          f"{r['materialize_ms']:.1f} ms, interpreter init {r['init_ms']:.1f} ms"
                                          for r in loads), "",
              "Speed-up efficiency of the smallest width, (lat(full)/lat(w025)) / (MFLOPs(full)/MFLOPs(w025)): " +
              ", ".join(f"{b} **{e:.2f}**" for b, e in c["speedup_efficiency_smallest"].items()), "",
              "## fp32 agreement with PyTorch (whole test split, one image per call)", "",
              "| backend | width | max abs diff | top-1 agreement % | top-1 % | PyTorch top-1 % |",
              "|---|---|---|---|---|---|"]
    for r in c["validation"]:
        if r["backend"] == "coreml":
            lines.append(f"| coreml | {r['width']} | spec check: {r['convs']} convs, {r['ops']} ops, "
                         f"shapes {'ok' if r['spec_ok'] else 'WRONG'} | - | - | - |")
        else:
            lines.append(f"| {r['backend']} | {r['width']} | {r['max_abs_diff']:.2e} | {r['top1_agreement']:.1f} | "
                         f"{r['top1']:.2f} | {r['top1_pytorch']:.2f} |")
    if c.get("int8"):
        lines += ["", f"## int8 (`--precision int8`, calibration/int8-ptq.json: 128 training images), built in "
                      f"{c['int8'][0]['build_seconds']:.0f} s; whole test split", "",
                  "| backend | width | top-1 % int8 | top-1 % fp32 PyTorch | drop (points) | agreement % |",
                  "|---|---|---|---|---|---|"]
        for r in c["int8"]:
            if r["backend"] == "coreml":
                lines.append(f"| coreml | {r['width']} | spec check only (int8 weights, "
                             f"{r['weight_bytes']:,} B weight.bin) | - | - | - |")
            else:
                lines.append(f"| {r['backend']} | {r['width']} | {r['top1']:.2f} | {r['top1_pytorch']:.2f} | "
                             f"{r['top1_drop']:+.2f} | {r['top1_agreement']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", default="digits,digits32")
    parser.add_argument("--int8", action="store_true", help="also build int8 and report the top-1 drop per width")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    REPORTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases.split(","):
            result = run_case(case, args.runs, args.threads, Path(tmp), args.int8)
            (RESULTS / f"bundle_{case}.json").write_text(json.dumps(result, indent=1))
            text = report(result)
            (REPORTS / f"bundle_{case}.md").write_text(text)
            print(text)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
