"""How the CLI shows results: tables and summaries on stdout, or JSON (``--json``); nothing here computes."""

from __future__ import annotations

import json
import sys

from rich.console import Console
from rich.table import Table

# Tables are results: stdout, wide enough off a terminal that a redirected table keeps its rows whole.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def print_json(data) -> None:
    print(json.dumps(data, indent=2))


def width_table(rows: list[dict], title: str) -> None:
    """The width table: one row per configuration (and per gate width head or cascade share, with its width
    shares)."""
    table = Table(title=title)
    for col in ("config", "MFLOPs", "params", "top-1 %", "channels (first groups)"):
        table.add_column(col, justify="left" if col.startswith(("config", "channels")) else "right")
    for r in rows:
        channels = list(r["channels"].values())
        shown = ",".join(map(str, channels[:6])) + (",…" if len(channels) > 6 else "")
        if "share" in r:  # a gate: the width chosen per input
            shown = "per input: " + " · ".join(f"{100 * s:.0f}% {w}" for w, s in r["share"].items() if s)
        table.add_row(r["name"], f"{r['mflops']:.3f}", f"{r['params']:,}", f"{r['top1']:.2f}", shown)
    out.print(table)


def run_rows(info: dict) -> list[dict]:
    """A run's shipped configurations (and gate heads, cascade shares) as width-table rows, from its run.json."""
    rows = [{**c, **c["meta"]} for c in info["configs"]]
    params = max(r["params"] for r in rows)
    rows += [{"name": f"gate {h['name']}", "mflops": h["mflops"], "params": params, "top1": h["top1"],
              "channels": {}, "share": dict(zip(info["gate"]["widths"], h["share"]))}
             for h in info.get("gate", {}).get("heads", [])]
    cascade = info.get("gate", {}).get("cascade")
    widths = info.get("gate", {}).get("widths", [])
    rows += [{"name": f"cascade {p['share']:.0%}", "mflops": p["mflops"], "params": params, "top1": p["top1"],
              "channels": {}, "share": {widths[0]: round(1 - p["escalated"], 3), widths[-1]: p["escalated"]}}
             for p in (cascade or {}).get("points", [])]
    return rows


def run_json(path, info: dict) -> dict:
    keys = ("configs", "gate", "train_seconds", "world_size", "replica_max_abs_diff", "search")
    return {"run": str(path), **{k: info[k] for k in keys if k in info}}


def targets_table(targets) -> None:
    table = Table(title="device targets")
    for col in ("target", "backends", "precision", "threads", "telemetry"):
        table.add_column(col, no_wrap=col == "target")
    for t in targets:
        table.add_row(t.name, ", ".join(t.backends), t.precision, str(t.threads),
                      ", ".join(s["source"] for s in t.telemetry) or "-")
    out.print(table)


def backends_table(rows: list[dict]) -> None:
    table = Table(title="backends")
    for col in ("backend", "artifact", "precisions", "input layouts", "stored", "runs on", "runs here"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["backend"], f"{r['artifact']} ({r['label']})", ", ".join(r["precisions"]),
                      ", ".join(r["layouts"]), r["stored"],
                      r["runs_on"], "✓" if r["runs_here"] else "-")
    out.print(table)


def validation_table(path, samples: int, rows: list[dict]) -> None:
    table = Table(title=f"{path} · {samples} test images, 1 image per call")
    for col in ("backend", "width", "max |Δ logits|", "top-1 agree %", "top-1 %", "PyTorch top-1 %", "ok"):
        table.add_column(col)
    for r in rows:
        ok = "✓" if r["ok"] else "✗"
        if r["backend"] == "coreml":
            table.add_row("coreml", r["width"], f"spec: {r['convs']} convs, {r['ops']} ops", "-", "-", "-", ok)
        else:
            table.add_row(r["backend"], r["width"], f"{r['max_abs_diff']:.2e}", f"{r['top1_agreement']:.1f}",
                          f"{r.get('top1', 0):.2f}", f"{r.get('top1_pytorch', 0):.2f}", ok)
    out.print(table)


def profile_width(row: dict) -> str:
    energy = f", {row['energy_mj']:.3f} mJ" if "energy_mj" in row else ""
    return (f"  {row['name']}: p50 {row['p50_ms']:.3f} ms, p90 {row['p90_ms']:.3f}, p99 {row['p99_ms']:.3f}, "
            f"first run {row['first_run_ms']:.2f} ms{energy}")


def profile_json(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "widths"} | {
        "widths": [{k: v for k, v in w.items() if k != "samples_ms"} for w in data["widths"]]}


def simulation_table(summary: dict, trace_name: str) -> None:
    table = Table(title=f"{trace_name}: {summary['frames']} frames at {summary['fps']:g} fps, SLO "
                        f"{summary['slo_ms']:g} ms ({summary['slo_from']}; {summary['backend']} profile of "
                        f"{summary['profile_device']})")
    for col in ("policy", "deadline misses %", "mean top-1 %", "switches/min", "time per width %"):
        table.add_column(col)
    for name, r in summary["policies"].items():
        table.add_row(name, f"{r['miss_rate_pct']:.2f}", f"{r['mean_top1']:.2f}", f"{r['switches_per_min']:.1f}",
                      " ".join(f"{w}:{p:.0f}" for w, p in r["time_per_width_pct"].items()))
    out.print(table)


def live_summary(summary: dict) -> str:
    accuracy = f", top-1 {summary['top1']:.1f} %" if summary["top1"] is not None else ""
    misses = f", misses {summary['miss_rate_pct']:.2f} %" if summary["miss_rate_pct"] is not None else ""
    p50 = f"p50 {summary['p50_ms']:.3f} ms" if summary["p50_ms"] is not None else "no frames"
    return (f"{summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.0f} fps, {p50}"
            f"{misses}{accuracy}, {summary['switches']} switches); time per width: "
            + " ".join(f"{w} {p:.0f} %" for w, p in summary["time_per_width_pct"].items()))


def prediction_line(p: dict) -> str:
    """One image of `edgeslim run --input DIR`: file, predicted class, its score, the width that ran."""
    return f"{p['input']}\t{p['class']}\t{p['score']:.3f}\t{p['width']}"
