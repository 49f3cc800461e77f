"""DS-Net++ gated width: accuracy vs average MACs, and real batch-1 latency through the exported bundle.

    python bench/dsnet_report.py [--datasets digits,mnist5k] [--epochs 30,10] [--model resnet20] [--lr LR]
                                 [--workdir DIR] [--out REPORT.md]

``digits32`` is the digits upsampled to 3×32×32 (as in bench/bundle_report.py), for larger models.

Per dataset: trains `usnet` and `dsnet` (same model, epochs, seed), then reports
1. accuracy vs MACs: every gate head (complexity weight) against the dsnet run's static widths and against usnet,
   as the top-1 gain at equal average MACs (linear interpolation of the static curves);
2. latency: the dsnet run built for x86 (TFLite and ExecuTorch, XNNPACK, 1 thread), every test image one at a
   time: mean latency of gated inference (gate program included, its share reported) against the static width
   of equal accuracy (interpolated along the ladder), and the efficiency of the saving:
   (1 - ms_gated / ms_equal) / (1 - MACs_gated / MACs_equal), goal >= 0.8; and the same efficiency for one
   image routed to the narrowest instead of the widest width (what every routing decision saves), and of gated
   inference against always running the widest width;
3. the confidence cascade through the bundle (``routing="cascade"``: the narrowest width first, the images below
   the threshold calibrated at training for each share also through the widest width's remainder): top-1,
   average MACs and the gain at equal MACs (host, run.json), the share escalated, top-1 and latency on the device,
   and the same latency efficiencies as the heads';
4. headroom: an oracle router's top-1 and MFLOPs, and how well the gate separates hard images (ROC AUC).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from bundle_report import digits32  # the digits at 3x32x32, shared with the bundle report

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


def measure_latency(bundle: Path, backend: str, x: np.ndarray, y: np.ndarray, heads: list[str],
                    shares: list[float], passes: int = 3) -> dict:
    """Per mode (every static width, every head, the cascade at every share): the mean latency over the test
    images, one image per call; the median of ``passes`` passes, each running the modes in a new random order
    after a warm-up pass (which also counts top-1 and, for the cascade, the share escalated)."""
    from edgeslim.device.runtime import DynamicModel

    model = DynamicModel.open(bundle, backend=backend, threads=1)
    modes = [("fixed", w) for w in model.widths] + [("gate", h) for h in heads] + [("cascade", s) for s in shares]
    means = np.zeros((passes, len(modes), 2))
    correct, escalated = np.zeros(len(modes)), np.zeros(len(modes))
    rng = np.random.default_rng(0)
    for p in range(-1, passes):
        for m in rng.permutation(len(modes)):
            routing, name = modes[m]
            if routing == "cascade":
                model.set_routing(routing, escalate=name)
            else:
                model.set_routing(routing, None if routing == "fixed" else name)
            model.set_width(name if routing == "fixed" else model.widths[-1])
            times = np.zeros((len(x), 2))
            for i, image in enumerate(x):
                logits = model(image[None])
                times[i] = model.last_ms, model.last_gate_ms
                correct[m] += p == 0 and int(np.argmax(logits) == y[i])
                escalated[m] += p == 0 and model.last_width != model.widths[0]
            if p >= 0:
                means[p, m] = times.mean(0)
    ms = np.median(means, 0)
    result = {"widths": {}, "heads": {}, "cascade": {}}
    for m, (routing, name) in enumerate(modes):
        if routing == "fixed":
            result["widths"][name] = float(ms[m, 0])
        else:
            result["heads" if routing == "gate" else "cascade"][name] = {
                "ms": float(ms[m, 0]), "gate_ms": float(ms[m, 1]), "top1": 100.0 * correct[m] / len(x),
                "escalated": escalated[m] / len(x)}
    return result


def gate_diagnostics(run_dir: Path) -> dict:
    """How much routing could gain (oracle: the narrowest width that is right, else the narrowest) and how well
    the default gate head separates the images the narrowest width gets wrong (ROC AUC), on the test split."""
    from sklearn.metrics import roc_auc_score

    from edgeslim.host.data import load_dataset
    from edgeslim.host.gate.routing import RouteCache, ladder_macs, narrow_confidence, routed_metrics
    from edgeslim.host.runs import load_run

    run = load_run(run_dir)
    gate = run.info["gate"]
    ladder = [c for name in gate["widths"] for c in run.configs if c.name == name]
    dataset = load_dataset(run.info["data"], run.info["options"]["seed"])
    cache = RouteCache.compute(run.supernet, ladder, dataset.normalize(dataset.x_test), dataset.y_test)
    right = (cache.logits.argmax(2) == cache.labels[:, None]).numpy()
    oracle = np.where(right.any(1), right.argmax(1), 0)
    macs = ladder_macs(run.supernet, ladder)
    narrow_wrong = ~right[:, 0]
    head = run.supernet.gate.heads[gate["default"]]
    score = head(cache.hidden).softmax(1)[:, 1:].sum(1).detach().numpy()  # P(anything wider than the narrowest)

    def auc(score: np.ndarray) -> float | None:
        return round(float(roc_auc_score(narrow_wrong, score)), 3) if 0 < narrow_wrong.sum() < len(score) else None

    return {"oracle": routed_metrics(cache, oracle, macs), "narrow_wrong_pct": round(100 * narrow_wrong.mean(), 2),
            "gate_auc": auc(score), "narrow_confidence_auc": auc(-narrow_confidence(cache))}


def run_case(data: str, epochs: int, workdir: Path, model: str, lr: str | None = None) -> dict:
    from edgeslim.host.compile.validate import validation_data

    runs = {}
    source = digits32(workdir / "digits32.npz") if data == "digits32" else data
    stem = Path(data.split(":", 1)[-1]).stem  # npz:../shared/data/cifar10-train5k.npz -> cifar10-train5k
    for method in ("usnet", "dsnet"):
        out = workdir / f"{stem}-{method}"
        if not (out / "run.json").is_file():
            started = time.time()
            cli("train", "--model", model, "--data", source, "--method", method, "--epochs", str(epochs),
                "--out", str(out), "--force", *(["--lr", lr] if lr else []))
            print(f"trained {data} {method} in {time.time() - started:.0f} s", file=sys.stderr)
        runs[method] = json.loads((out / "run.json").read_text())
    bundle = workdir / f"{stem}-dsnet-bundle"
    if not (bundle / "manifest.json").is_file():
        cli("build", str(workdir / f"{stem}-dsnet"), "--target", "x86-emu", "--backends", "tflite,executorch",
            "--out", str(bundle), "--force")
    ds, us = runs["dsnet"], runs["usnet"]
    static = [{"name": c["name"], **c["meta"]} for c in ds["configs"]]
    usnet = [{"name": c["name"], **c["meta"]} for c in us["configs"]]

    def gains(top1: float, mflops: float) -> dict:
        """Top-1 gain over the static dsnet widths and over usnet at equal MACs (interpolated)."""
        return {f"gain_vs_{name}": round(top1 - interp(mflops, [s["mflops"] for s in curve],
                                                       [s["top1"] for s in curve]), 2)
                for name, curve in (("static", static), ("usnet", usnet))}

    heads = ds["gate"]["heads"]
    accuracy = [{"head": h["name"], "complexity_weight": h["complexity_weight"], "top1": h["top1"],
                 "mflops": h["mflops"], "share": h["share"], **gains(h["top1"], h["mflops"])} for h in heads]
    points = ds["gate"]["cascade"]["points"]
    cascade = [{"share": p["share"], "escalated": p["escalated"], "top1": p["top1"], "mflops": p["mflops"],
                **gains(p["top1"], p["mflops"])} for p in points]
    x, y = validation_data(ds, 0)
    diagnostics = gate_diagnostics(workdir / f"{stem}-dsnet")
    latency = {}
    for backend in ("tflite", "executorch"):
        measured = measure_latency(bundle, backend, x, y, [h["name"] for h in heads], [p["share"] for p in points])
        ladder = [{**s, "ms": measured["widths"][s["name"]]} for s in static]
        rows = [{"head": h["name"], **latency_row(measured["heads"][h["name"]], h["mflops"], ladder)} for h in heads]
        cascade_rows = [{"share": p["share"], **latency_row(measured["cascade"][p["share"]], p["mflops"], ladder)}
                        for p in points]
        narrow, wide = ladder[0], ladder[-1]
        routing_efficiency = (1 - narrow["ms"] / wide["ms"]) / (1 - narrow["mflops"] / wide["mflops"])
        latency[backend] = {"widths": {s["name"]: round(s["ms"], 4) for s in ladder}, "heads": rows,
                            "cascade": cascade_rows, "routing_efficiency": round(routing_efficiency, 2)}
    return {"data": stem, "model": model, "epochs": epochs, "test_images": len(x), "static": static, "usnet": usnet,
            "accuracy": accuracy, "cascade": cascade, "cascade_default": ds["gate"]["cascade"]["default"],
            "latency": latency, "diagnostics": diagnostics, "gate_mflops": ds["gate"]["gate_mflops"],
            "default_head": ds["gate"]["default"]}


def latency_row(m: dict, mflops: float, ladder: list[dict]) -> dict:
    """One routing mode measured on the device (``m``: ms, gate ms, top-1, share escalated) at ``mflops``: its
    latency saving over always running the widest width and over the static width of equal top-1, each divided
    by the MACs saving (the efficiency)."""
    row = {"top1": round(m["top1"], 2), "escalated": round(m["escalated"], 3), "mflops": mflops,
           "ms": round(m["ms"], 4), "gate_ms": round(m["gate_ms"], 4)}
    wide = ladder[-1]
    if mflops < 0.99 * wide["mflops"]:
        row["efficiency_vs_widest"] = round((1 - m["ms"] / wide["ms"]) / (1 - mflops / wide["mflops"]), 2)
    eq = equal_accuracy(m["top1"], ladder)
    if eq is not None:
        macs_saving, ms_saving = 1 - mflops / eq[0], 1 - m["ms"] / eq[1]
        row.update(equal_mflops=round(eq[0], 4), equal_ms=round(eq[1], 4), macs_saving=round(macs_saving, 4),
                   ms_saving=round(ms_saving, 4),
                   efficiency=round(ms_saving / macs_saving, 2) if macs_saving > 0.01 else None)
    return row


def report(cases: list[dict]) -> str:
    lines = [f"# DS-Net++ gated width ({cases[0]['model']}): accuracy vs MACs and real latency", "",
             "Produced by `python bench/dsnet_report.py`; x86 (2 cores), batch 1, 1 thread; latency: mean over the "
             "test images, median of 3 passes with the modes in random order.",
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
        d = c["diagnostics"]
        lines += ["", f"Headroom: the narrowest width is wrong on {d['narrow_wrong_pct']:.2f} % of the test images; an "
                  f"oracle router (narrowest width that is right) reaches {d['oracle']['top1']:.2f} % at "
                  f"{d['oracle']['mflops']:.3f} MFLOPs. The default head's P(wider) separates those images with "
                  f"ROC AUC {d['gate_auc']}; the narrowest width's own confidence would give "
                  f"{d['narrow_confidence_auc']}.", "",
                  "The confidence cascade (`--routing cascade`): every image runs the narrowest width; below the "
                  "threshold calibrated on held-out images for the share, also the widest width's remainder on "
                  f"the same gate features (the run's default share: {100 * c['cascade_default']:.0f} %):", "",
                  "| share (calibrated) | escalated (test) | avg MFLOPs | top-1 % | gain vs static, equal MACs | "
                  "gain vs usnet, equal MACs |", "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {100 * r['share']:.0f} % | {100 * r['escalated']:.1f} % | {r['mflops']:.3f} | {r['top1']:.2f} | "
                  f"{r['gain_vs_static']:+.2f} | {r['gain_vs_usnet']:+.2f} |" for r in c["cascade"]]
        for backend, lat in c["latency"].items():
            widths = ", ".join(f"{w} {ms:.3f}" for w, ms in lat["widths"].items())
            lines += ["", f"**{backend}** static widths (gate program + remainder), mean ms: {widths}. "
                      "An image the gate sends to the narrowest instead of the widest width saves latency with "
                      f"efficiency "
                      f"{lat['routing_efficiency']:.2f} (latency saving / MACs saving, gate program included).", "",
                      "| routing | top-1 % | mean ms | gate ms | static of equal top-1: MFLOPs / ms | MACs saving | "
                      "latency saving | efficiency | efficiency vs widest |",
                      "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
            modes = [(f"head {r['head']}", r) for r in lat["heads"]]
            modes += [(f"cascade {100 * r['share']:.0f} % ({100 * r['escalated']:.1f} % escalated)", r)
                      for r in lat["cascade"]]
            for name, r in modes:
                eq = f"{r['equal_mflops']:.3f} / {r['equal_ms']:.3f}" if "equal_ms" in r else "none as accurate"
                eff = r.get("efficiency")
                lines.append(f"| {name} | {r['top1']:.2f} | {r['ms']:.3f} | {r['gate_ms']:.3f} | {eq} | "
                             f"{100 * r.get('macs_saving', 0):.1f} % | {100 * r.get('ms_saving', 0):.1f} % | "
                             f"{'-' if eff is None else f'{eff:.2f}'} | {r.get('efficiency_vs_widest', '-')} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="digits,mnist5k")
    parser.add_argument("--epochs", default="30,10", help="per dataset")
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--lr", help="training learning rate (default: edgeslim's; ResNet-18 wants 0.02)")
    parser.add_argument("--workdir", default="runs/bench-dsnet")
    parser.add_argument("--out", default=str(ROOT / "bench" / "reports" / "dsnet.md"))
    args = parser.parse_args()
    datasets = args.datasets.split(",")
    epochs = [int(e) for e in args.epochs.split(",")]
    epochs += [epochs[-1]] * (len(datasets) - len(epochs))
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cases = [run_case(d, e, workdir, args.model, args.lr) for d, e in zip(datasets, epochs)]
    text = report(cases)
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(cases, indent=1))
    print(text)


if __name__ == "__main__":
    main()
