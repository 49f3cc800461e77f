"""The Android library (android/, Java 17) against the Python device side, and TFLite NHWC against NCHW.

Prints: Java vs Python assembled artifacts (sha256, count identical); Java assembly time and peak heap against
Python's rebuild of the same artifacts (each in a fresh process, best of ``--repeats``) for a ResNet-20 and a
ResNet-18 bundle; Java vs Python controller decisions (steps identical) on both shipped traces; and the TFLite
latency per width of the NHWC and the NCHW export of the same run (batch 1, 1 and 4 threads, interleaved rounds,
each fed its native layout) with the TRANSPOSE ops each signature holds. Needs a JDK and Debian's junit5.

    python bench/android_report.py [--data npz:../shared/data/cifar10-train5k.npz] [--out bench/results/android]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "android" / "src"
JUNIT = Path(os.environ.get("EDGESLIM_JUNIT_JAR", "/usr/share/java/junit-platform-console-standalone.jar"))
CIFAR = ROOT.parent / "shared" / "data" / "cifar10-train5k.npz"


def compile_java(out: Path) -> Path:
    """The library and its JUnit tests compiled (``-Xlint:all -Werror``) into ``out``; raises with javac's output."""
    sources = sorted(str(p) for folder in ("main", "test") for p in (SOURCES / folder).rglob("*.java"))
    shutil.rmtree(out, ignore_errors=True)
    done = subprocess.run(["javac", "--release", "17", "-Xlint:all", "-Werror", "-encoding", "UTF-8", "-cp",
                           str(JUNIT), "-d", str(out), *sources], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"javac failed:\n{done.stderr}")
    return out


def run_junit(classes: Path, properties: dict[str, Path], reports: Path, methods: list[str] | None = None
              ) -> tuple[subprocess.CompletedProcess, ET.Element]:
    """The JUnit 5 console launcher over ``classes`` (or only ``methods``, as ``class#method``); returns its result
    and report."""
    which = [f"--select-method={m}" for m in methods] if methods else ["--scan-class-path"]
    done = subprocess.run(["java", *(f"-D{k}={v}" for k, v in properties.items()), "-jar", str(JUNIT),
                           "--class-path", str(classes), *which, "--disable-banner", "--details=none",
                           "--fail-if-no-tests", f"--reports-dir={reports}"], capture_output=True, text=True,
                          timeout=900)
    return done, ET.parse(reports / "TEST-junit-jupiter.xml").getroot()


def conformance_scenarios(bundle: Path, folder: Path) -> int:
    """Scenario files for the Java ConformanceTest: both shipped traces × two SLOs, with every frame's latency
    at every width and the rung the Python controller ran; returns the number of steps."""
    from edgeslim.device.bundle import open_bundle
    from edgeslim.device.profile import load_profile
    from edgeslim.device.simulate import SimulationOptions, frames, replay
    from edgeslim.device.telemetry.replay import trace_path

    folder.mkdir(parents=True, exist_ok=True)
    measured = load_profile(bundle)
    policy = open_bundle(bundle).manifest["policy"]
    steps = 0
    p50 = sorted(measured["widths"], key=lambda w: w["mflops"])[-1]["p50_ms"]
    for trace in ("throttling-ramp", "battery-drain"):
        for slo in (None, p50):  # the default SLO (1.5 × p90 of the largest), and one the largest misses often
            options = SimulationOptions(slo_ms=slo)
            stream = frames(measured, policy, trace, options)
            rungs = replay(measured, policy, trace, options)["timeline"]["rung"]
            if len(set(rungs.tolist())) < 2:
                raise RuntimeError(f"{trace}: the controller never switches; not a conformance scenario")
            scenario = {"trace": str(trace_path(trace)), "costs": stream.costs,
                        "policy": dataclasses.asdict(stream.policy), "times": stream.times.tolist(),
                        "latency": stream.latency.tolist(), "rungs": rungs.tolist()}
            name = f"controller-{trace}-slo-{'default' if slo is None else 'p50'}.json"
            (folder / name).write_text(json.dumps(scenario))
            steps += len(rungs)
    return steps


def gate_routing_cases(bundle: Path, folder: Path) -> int:
    """The Python runtime's routing of a gated bundle's samples, for the Java GateRouter test: per input, the gate's
    head scores, the narrowest width's logits and its top probability, and the width Python ran for every head and
    cap (gate routing) and every escalated share and cap (cascade, in the order of ``shares``); returns the number
    of decisions."""
    from edgeslim.device.preprocess import preprocess
    from edgeslim.device.runtime import GATE, DynamicModel

    model = DynamicModel.open(bundle, backend="tflite")
    cascade = model.gate["cascade"]
    shares = sorted({0.0, 0.1, cascade["default"], 0.5, 1.0})
    widths = model.gate["widths"]
    x, _ = model.bundle.samples()
    inputs = []
    for raw in x:
        image = preprocess(raw, model.bundle.manifest["input"])
        features, scores = model.engine.run_all(GATE, image)
        narrow = model.engine.run(widths[0], features)[0]
        gate, escalated = {}, []
        for head in (h["name"] for h in model.gate["heads"]):
            model.set_routing("gate", head=head)
            gate[head] = [_routed(model, cap, image) for cap in widths]
        for share in shares:
            model.set_routing("cascade", escalate=share)
            escalated.append([_routed(model, cap, image) for cap in widths])
        inputs.append({"scores": scores.ravel().tolist(), "narrow": narrow.tolist(),
                       "top": float(1.0 / np.exp(narrow - narrow.max()).sum()), "gate": gate, "cascade": escalated})
    thresholds = []
    for share in shares:  # None: infinite (share 1 escalates every input)
        model.set_routing("cascade", escalate=share)
        thresholds.append(model.threshold if np.isfinite(model.threshold) else None)
    (folder / "gate-routing.json").write_text(json.dumps({
        "bundle": str(bundle), "shares": shares, "thresholds": thresholds, "inputs": inputs}))
    return len(inputs) * len(widths) * (len(model.gate["heads"]) + len(shares))


def _routed(model, cap: str, image: np.ndarray) -> int:
    """The index among the gate's widths of the width ``model`` ran for ``image`` under ``cap``."""
    model.set_width(cap)
    model(image)
    return model.gate["widths"].index(model.last_width)


def image_input_cases(folder: Path) -> None:
    """Random RGB frames (odd sizes, resized) through Python's preprocess, for the Java ImageInput test."""
    from edgeslim.device.preprocess import preprocess

    rng = np.random.default_rng(0)
    cases = []
    for channels, size, layout in ((1, 8, "NCHW"), (3, 16, "NHWC"), (3, 7, "NCHW"), (1, 12, "NHWC")):
        height, width = rng.integers(5, 40, 2)
        rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        spec = {"shape": [1, channels, size, size], "preprocessing": {"mean": rng.random(channels).tolist(),
                                                                    "std": (rng.random(channels) + 0.1).tolist()}}
        x = preprocess(rgb, spec)
        argb = (0xFF << 24) | (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
        cases.append({"argb": [int(v) - (1 << 32) for v in argb.ravel()], "width": int(width),
                      "height": int(height), "shape": spec["shape"], **spec["preprocessing"], "layout": layout,
                      "expected": (x.transpose(0, 2, 3, 1) if layout == "NHWC" else x).ravel().tolist()})
    (folder / "image-input.json").write_text(json.dumps(cases))


def cli(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "edgeslim", *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"edgeslim {' '.join(args)} failed:\n{done.stderr[-3000:]}")


PYTHON_REBUILD = """
import hashlib, json, resource, sys, time
started = time.perf_counter()
from edgeslim.device.bundle import open_bundle
bundle = open_bundle(sys.argv[1])
shas = {b: hashlib.sha256(bundle.artifact_bytes(b)).hexdigest() for b in bundle.backends}
print(json.dumps({"ms": (time.perf_counter() - started) * 1e3, "shas": shas,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def assembly(classes: Path, bundle: Path, out: Path, repeats: int) -> dict:
    """Java (Assemble --stats) and Python (open + rebuild every artifact), each a fresh process, best of repeats."""
    java, python = [], []
    for i in range(repeats):
        target = out / f"java-{i}"
        shutil.rmtree(target, ignore_errors=True)
        started = time.perf_counter()
        done = subprocess.run(["java", "-cp", str(classes), "dev.edgeslim.Assemble", str(bundle), str(target),
                               "--stats"], capture_output=True, text=True, timeout=600)
        wall = (time.perf_counter() - started) * 1e3
        if done.returncode:
            raise RuntimeError(done.stderr)
        stats = re.search(r"assembled in ([\d.]+) ms, peak heap ([\d.]+) MiB", done.stderr)
        java.append({"ms": float(stats.group(1)), "process_ms": wall, "peak_heap_mib": float(stats.group(2))})
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PYTHON_REBUILD, str(bundle)], capture_output=True, text=True,
                              timeout=600, cwd=ROOT)
        if done.returncode:
            raise RuntimeError(done.stderr)
        python.append({**json.loads(done.stdout), "process_ms": (time.perf_counter() - started) * 1e3})
    smallest_heap = None
    for mib in (16, 24, 32, 40, 48, 64, 96, 128, 192, 256, 384, 512):
        target = out / "java-heap"
        shutil.rmtree(target, ignore_errors=True)
        done = subprocess.run(["java", f"-Xmx{mib}m", "-cp", str(classes), "dev.edgeslim.Assemble", str(bundle),
                               str(target)], capture_output=True, text=True, timeout=600)
        if done.returncode == 0:
            smallest_heap = mib
            break
    manifest = json.loads((bundle / "manifest.json").read_text())
    written = {b: hashlib.sha256((out / "java-0" / a["file"]).read_bytes()).hexdigest()
               for b, a in manifest["artifacts"].items()}
    identical = sum(written[b] == python[0]["shas"][b] == a["sha256"] for b, a in manifest["artifacts"].items())
    best_java, best_python = min(java, key=lambda r: r["ms"]), min(python, key=lambda r: r["ms"])
    return {"bundle": bundle.name, "artifact_bytes": sum(a["bytes"] for a in manifest["artifacts"].values()),
            "blob_bytes": manifest["blob"]["bytes"], "artifacts": len(written), "identical": identical,
            "java_ms": best_java["ms"], "java_process_ms": best_java["process_ms"],
            "java_peak_heap_mib": best_java["peak_heap_mib"], "java_smallest_xmx_mib": smallest_heap,
            "python_ms": best_python["ms"],
            "python_process_ms": best_python["process_ms"], "python_peak_rss_mib": best_python["peak_rss_mib"]}


def transposes(model: bytes) -> dict[str, int]:
    """TRANSPOSE ops per signature of a .tflite."""
    from ai_edge_litert import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    parsed = schema.ModelT.InitFromPackedBuf(model, 0)
    out = {}
    for signature in parsed.signatureDefs:
        graph = parsed.subgraphs[signature.subgraphIndex]
        out[signature.signatureKey.decode()] = sum(names[parsed.operatorCodes[op.opcodeIndex].builtinCode]
                                                   == "TRANSPOSE" for op in graph.operators)
    return out


def layout_latency(nhwc: Path, nchw: Path, threads: int, runs: int, rounds: int) -> list[dict]:
    """Per width: median latency of the NHWC and NCHW exports, interleaved in rounds, each fed its own layout, and
    the median of the per-round NHWC/NCHW ratios."""
    from ai_edge_litert.interpreter import Interpreter

    from edgeslim.device.bundle import open_bundle

    bundles = {"NHWC": open_bundle(nhwc), "NCHW": open_bundle(nchw)}
    runners, ops = {}, {}
    for layout, bundle in bundles.items():
        data = bundle.artifact_bytes("tflite")
        ops[layout] = transposes(data)
        interpreter = Interpreter(model_content=data, num_threads=threads)
        runners[layout] = (interpreter, {w: interpreter.get_signature_runner(w) for w in bundle.width_names})
    x = np.random.default_rng(0).standard_normal(bundles["NCHW"].spec.input.shape).astype(np.float32)
    inputs = {"NCHW": x, "NHWC": np.ascontiguousarray(x.transpose(0, 2, 3, 1))}
    rows = []
    for width in bundles["NCHW"].width_names:
        samples = {layout: [] for layout in bundles}
        for layout, (_, by_width) in runners.items():
            for _ in range(20):
                by_width[width](image=inputs[layout])
        for _ in range(rounds):
            for layout, (_, by_width) in runners.items():
                runner, feed = by_width[width], inputs[layout]
                started = time.perf_counter()
                for _ in range(runs):
                    runner(image=feed)
                samples[layout].append((time.perf_counter() - started) / runs * 1e3)
        median = {layout: float(np.median(s)) for layout, s in samples.items()}
        paired = float(np.median(np.array(samples["NHWC"]) / np.array(samples["NCHW"])))  # per round: drift cancels
        rows.append({"width": width, "threads": threads, "nhwc_ms": median["NHWC"], "nchw_ms": median["NCHW"],
                     "ratio": paired, "transposes_nhwc": ops["NHWC"][width],
                     "transposes_nchw": ops["NCHW"][width]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=f"npz:{CIFAR}" if CIFAR.is_file() else "digits",
                        help="data of the ResNet-20 run (default: the CIFAR-10 5k images if present, else digits)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "android"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--runs", type=int, default=200, help="invokes per latency round")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", default="1,2,4", help="interpreter threads of the latency table")
    parser.add_argument("--parts", default="assembly,controller,latency", help="which tables to measure")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {"resnet20": (args.data, "1"), "resnet18": ("digits", "1")}
    bundles = {}
    for model, (data, epochs) in runs.items():
        run, bundle = out / f"{model}-run", out / f"{model}-android-arm64"
        if not (run / "run.json").is_file():
            print(f"training {model} on {data} ({epochs} epoch)…", file=sys.stderr)
            cli("train", "--model", model, "--data", data, "--method", "usnet", "--epochs", epochs,
                "--out", str(run), "--force")
        if not (bundle / "manifest.json").is_file():
            print(f"building {bundle.name}…", file=sys.stderr)
            cli("build", str(run), "--target", "android-arm64", "--out", str(bundle), "--force")
        bundles[model] = bundle
    nchw = out / "resnet20-android-arm64-nchw"
    if not (nchw / "manifest.json").is_file():
        cli("build", str(out / "resnet20-run"), "--target", "android-arm64", "--backends", "tflite",
            "--input-layout", "NCHW", "--out", str(nchw), "--force")
    classes = compile_java(out / "classes")
    parts = args.parts.split(",")
    results = {}
    if "assembly" in parts:
        results["assembly"] = assembly_table(classes, bundles, out, args.repeats)
    if "controller" in parts:
        results["controller"] = controller_table(classes, bundles["resnet20"], out)
    if "latency" in parts:
        results["latency"] = latency_table(bundles["resnet20"], nchw, [int(t) for t in args.threads.split(",")],
                                           args.runs, args.rounds)
    (out / "android_report.json").write_text(json.dumps(results, indent=1))


def assembly_table(classes: Path, bundles: dict[str, Path], out: Path, repeats: int) -> list[dict]:
    rows = [assembly(classes, bundle, out / "assembled" / model, repeats) for model, bundle in bundles.items()]
    print("\nJava assembler vs Python device side (fresh process each, best of "
          f"{repeats}; in-process time, and the whole process with JVM / interpreter start)")
    print("heap: the peak used by default (the JVM collects late), and the smallest -Xmx it assembles in")
    print(f"{'bundle':28} {'artifacts':>9} {'identical':>9} {'MB':>7} {'Java ms':>8} {'(proc)':>8} {'heap MiB':>9} "
          f"{'-Xmx MiB':>8} {'Python ms':>9} {'(proc)':>8} {'RSS MiB':>8}")
    for r in rows:
        print(f"{r['bundle']:28} {r['artifacts']:>9} {r['identical']:>9} {r['artifact_bytes'] / 1e6:>7.1f} "
              f"{r['java_ms']:>8.0f} {r['java_process_ms']:>8.0f} {r['java_peak_heap_mib']:>9.1f} "
              f"{r['java_smallest_xmx_mib']:>8} {r['python_ms']:>9.0f} {r['python_process_ms']:>8.0f} "
              f"{r['python_peak_rss_mib']:>8.0f}")
    return rows


def controller_table(classes: Path, bundle: Path, out: Path) -> dict:
    from edgeslim.device.profile import profile

    shutil.rmtree(bundle / "profiles", ignore_errors=True)
    profile(bundle, backend="tflite", runs=100)
    scenarios = out / "scenarios"
    shutil.rmtree(scenarios, ignore_errors=True)
    steps = conformance_scenarios(bundle, scenarios)
    image_input_cases(scenarios)
    done, report = run_junit(classes, {"edgeslim.conformance": scenarios}, out / "reports",
                             methods=[f"dev.edgeslim.ConformanceTest#{m}" for m in (
                                 "javaControllerDecidesAsPythonAtEveryStep", "imageInputIsPythonsPreprocessing")])
    identical = re.findall(r"conformance (\S+): (\d+) steps identical", done.stdout)
    print(f"\nController, Java vs Python (ResNet-20 tflite profile, 2 traces × 2 SLOs): {steps} steps compared, "
          f"JUnit failures {report.get('failures')}, errors {report.get('errors')}")
    for name, count in identical:
        print(f"  {name}: {count} steps identical")
    return {"steps": steps, "identical": dict(identical), "failures": report.get("failures")}


def latency_table(nhwc: Path, nchw: Path, thread_counts: list[int], runs: int, rounds: int) -> list[dict]:
    latency = []
    for threads in thread_counts:
        latency += layout_latency(nhwc, nchw, threads, runs, rounds)
    print(f"\nTFLite NHWC vs NCHW, ResNet-20 {json.loads((nchw / 'manifest.json').read_text())['input']['shape']} "
          f"(median of {rounds} interleaved rounds × {runs} invokes; NHWC/NCHW: median of the per-round ratios; "
          f"{os.cpu_count()} cores here)")
    print(f"{'width':6} {'threads':>7} {'NHWC ms':>8} {'NCHW ms':>8} {'NHWC/NCHW':>9} {'transposes NHWC/NCHW':>21}")
    for r in latency:
        print(f"{r['width']:6} {r['threads']:>7} {r['nhwc_ms']:>8.4f} {r['nchw_ms']:>8.4f} {r['ratio']:>9.3f} "
              f"{r['transposes_nhwc']:>10}/{r['transposes_nchw']}")
    for threads in thread_counts:
        ratios = [r["ratio"] for r in latency if r["threads"] == threads]
        print(f"{threads} thread(s): NHWC/NCHW worst {max(ratios):.3f}, geometric mean "
              f"{float(np.exp(np.mean(np.log(ratios)))):.3f} (goal ≤ 1.02)")
    return latency


if __name__ == "__main__":
    main()
