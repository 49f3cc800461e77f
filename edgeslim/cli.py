"""The ``edgeslim`` command line. User mistakes print one line, never a traceback."""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from pathlib import Path

from edgeslim.errors import EdgeslimError


class _Parser(argparse.ArgumentParser):
    """argparse that answers a wrong option or choice with one line and the closest valid names."""

    def error(self, message: str):
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            options = [o for o in self._option_string_actions if o.startswith("--")]
            for word in words:
                if word.startswith("-"):
                    close = difflib.get_close_matches(word.split("=")[0], options, n=3, cutoff=0.5)
                    hint = f"; did you mean {', '.join(close)}?" if close else ""
                    message = f"unknown option {word}{hint} (see {self.prog} --help)"
                    break
        elif "invalid choice:" in message:
            match = re.match(r"argument (\S+): invalid choice: '([^']*)' \(choose from (.*)\)", message)
            if match:
                what, bad, choices = match.groups()
                valid = [c.strip(" '") for c in choices.split(",")]
                close = difflib.get_close_matches(bad, valid, n=3, cutoff=0.4)
                what = "command" if what == "command" else f"value for {what}"
                message = (f"unknown {what} '{bad}'" + (f"; did you mean {', '.join(close)}?" if close else "")
                           + f" (valid: {', '.join(valid)})")
        self.exit(2, f"{self.prog}: error: {message}\n")


def _add_train(sub) -> None:
    from edgeslim.host.train import TrainOptions

    d = TrainOptions()
    p = sub.add_parser("train", help="train a slimmable supernet", description="Train a width-slimmable supernet.")
    p.add_argument("--model", default=d.model, help="resnet20 | resnet18 | mobilenetv2 (default %(default)s)")
    p.add_argument("--data", default=d.data,
                   help="digits | mnist5k | npz:PATH | cifar10:DIR | imagefolder:DIR (default %(default)s)")
    p.add_argument("--method", default=d.method, help="usnet (sandwich rule + in-place distillation) | pss "
                   "(usnet, then progressive sub-net search and joint training of the kept sub-nets) | dsnet "
                   "(DS-Net++: a gate picks the width per input; in-place bootstrapping, then gate training) | single "
                   "(one width alone, the individually-trained reference) (default %(default)s)")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--out", default=d.out, help="run directory (default %(default)s)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--num-random", type=int, default=d.num_random, help="random widths per step (sandwich rule)")
    p.add_argument("--min-width", type=float, default=d.min_width, help="smallest width trained")
    p.add_argument("--widths", default=d.widths, help="widths to ship, recalibrate and report")
    p.add_argument("--configs", help="JSON list of extra (non-uniform) configurations to ship")
    p.add_argument("--width", type=float, default=d.width, help="the width trained by --method single")
    p.add_argument("--granularity", type=int, default=d.granularity, help="channel step of a group (default 8)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="hold out this share of the training split (the search measures sub-nets on it; dsnet "
                        "trains its gate on it, 0.15 unless given)")
    p.add_argument("--calib-samples", type=int, default=d.calib_samples, help="images for BN recalibration")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random translation")
    p.add_argument("--teacher", choices=["live", "ema"],
                   help="what the distilled sub-nets learn from: the step's largest (live: in-place distillation, "
                        "US-Nets) or an EMA of it (ema: in-place bootstrapping, DS-Net++) (default: ema for dsnet, "
                        "live otherwise)")
    p.add_argument("--ema-decay", type=float, default=d.ema_decay,
                   help="decay of the EMA teacher (default %(default)s)")
    p.add_argument("--gate-before", help="dsnet: the module the gate sits before (default: the model's, e.g. "
                   "blocks.1 for resnet20); everything before it runs at full width")
    p.add_argument("--complexity-weights", default=d.complexity_weights,
                   help="dsnet: one gate width head per weight of the expected-MACs term; larger = narrower "
                        "(default %(default)s)")
    p.add_argument("--gate-copies", type=int, default=d.gate_copies,
                   help="dsnet: the held-out images plus shifted copies, this many in all, train the gate")
    p.add_argument("--device", default=d.device, choices=["auto", "cpu", "cuda"])
    p.add_argument("--resume", action="store_true", help="continue the unfinished run in OUT.partial")
    p.add_argument("--force", action="store_true", help="replace an existing run directory")
    _add_search_options(p, for_train=True)
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _add_search_options(p, for_train: bool) -> None:
    from edgeslim.host.search import SearchOptions

    d = SearchOptions()
    extra = " (with --method pss)" if for_train else ""
    p.add_argument("--budgets", default=d.budgets, help=f"cost budgets of the shipped sub-nets{extra}")
    p.add_argument("--unit", default=d.unit, choices=["fraction", "mflops", "ms"],
                   help="budgets as fractions of the full model's cost, MFLOPs, or milliseconds")
    p.add_argument("--latency-table", help="per-layer latency table (JSON) measured on the target device")
    p.add_argument("--threshold", type=float, default=d.threshold,
                   help="fine-tune when held-out top-1 falls by more than this many points (default %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs)
    p.add_argument("--final-epochs", type=int, default=None if for_train else d.final_epochs,
                   help="epochs of joint training of the kept sub-nets "
                        + ("(part of --epochs; default 40%% of it)" if for_train else "(default %(default)s)"))
    p.add_argument("--final-lr-scale", type=float, default=d.final_lr_scale,
                   help="joint training starts at this fraction of the run's learning rate (default %(default)s)")
    p.add_argument("--rank-steps", type=int, default=d.rank_steps, help="steps of noise-ranking training")


def _add_search(sub) -> None:
    p = sub.add_parser("search", help="progressive sub-net search on a trained run",
                       description="Find non-uniform sub-nets for cost budgets, jointly train them, and make them "
                                   "the run's shipped configurations.")
    p.add_argument("run", help="run directory written by edgeslim train")
    _add_search_options(p, for_train=False)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where the search and joint training run (auto: the GPU if there is one)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


def _add_eval(sub) -> None:
    p = sub.add_parser("eval", help="width / MFLOPs / params / top-1 table of a run",
                       description="Evaluate every shipped configuration of a run (and any extra widths).")
    p.add_argument("run", help="run directory written by edgeslim train")
    p.add_argument("--data", help="dataset to evaluate on (default: the run's own test split)")
    p.add_argument("--widths", help="extra uniform widths to evaluate (BN recalibrated on the fly), e.g. 0.3,0.6")
    p.add_argument("--configs", help="JSON list of extra configurations to evaluate (BN recalibrated on the fly)")
    p.add_argument("--plot", help="write an accuracy-vs-MFLOPs plot to this PNG file")
    p.add_argument("--json", action="store_true", help="print the table as JSON on stdout")


def _add_bundle_commands(sub) -> None:
    p = sub.add_parser("build", help="compile a run's widths into one bundle for a device target",
                       description="Export every shipped width of a run for a target's backends into one bundle "
                                   "(ExecuTorch .pte, TFLite .tflite, Core ML .mlpackage; weights stored once).")
    p.add_argument("run", help="run directory written by edgeslim train / search")
    p.add_argument("--target", required=True, help="target profile name (see edgeslim targets) or a .json file")
    p.add_argument("--backends", help="comma-separated subset of executorch,coreml,tflite (default: the target's)")
    p.add_argument("--precision", help="fp32 | fp16 (Core ML; others stay fp32) | int8 (post-training, "
                                       "calibration/int8-ptq.json) (default: the target's)")
    p.add_argument("--calib", help="int8 calibration data (default: the run's own training split)")
    p.add_argument("--out", help="bundle directory (default: RUN-TARGET next to the run)")
    p.add_argument("--no-validate", action="store_true", help="skip the quick validation against PyTorch")
    p.add_argument("--archive", action="store_true", help="also write the bundle as one file, BUNDLE.tar")
    p.add_argument("--force", action="store_true", help="replace an existing bundle directory")
    p.add_argument("--json", action="store_true", help="print the manifest summary as JSON on stdout")
    p = sub.add_parser("validate", help="compare every width of every runnable backend with PyTorch",
                       description="Run every width of every backend available here against the PyTorch sub-net "
                                   "(max |Δ logits|, top-1 agreement); Core ML is checked by its spec.")
    p.add_argument("bundle", help="bundle directory written by edgeslim build")
    p.add_argument("--data", help="dataset (default: the run's own test split)")
    p.add_argument("--samples", type=int, default=0, help="test images to use (default: all)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON on stdout")
    p = sub.add_parser("unpack", help="write a bundle's complete artifacts (for apps that ship them directly)",
                       description="Rebuild each backend's complete artifact from the skeleton and the shared "
                                   "weight blob (e.g. the .pte an Android app loads).")
    p.add_argument("bundle", help="bundle directory")
    p.add_argument("--out", required=True, help="directory for the artifacts")


def _add_device_commands(sub) -> None:
    p = sub.add_parser("profile", help="measure every width of a bundle on this device",
                       description="Measure every width like benchmark_model (first run, warm-up, p50/p90/p99, "
                                   "peak memory, temperature, energy with a meter) in random order; writes "
                                   "profiles/<device>.json and the latency table into the bundle.")
    p.add_argument("bundle")
    p.add_argument("--backend", help="executorch | tflite (default: the first the target lists that runs here)")
    p.add_argument("--runs", type=int, default=200, help="timed runs per width (default %(default)s)")
    p.add_argument("--warmup", type=int, default=20, help="untimed runs per width first (default %(default)s)")
    p.add_argument("--threads", type=int, help="interpreter threads (default: the target's)")
    p.add_argument("--meter", help="serial power meter: csv:URL (INA219/INA226 lines) or um:URL (UM24C/25C/34C)")
    p.add_argument("--device", help="device name for profiles/<device>.json (default: the board's model)")
    p.add_argument("--json", action="store_true", help="print the profile as JSON on stdout")
    p = sub.add_parser("simulate", help="replay a telemetry trace against the bundle's latency profile",
                       description="Replay a telemetry trace (throttling as a latency multiplier) against the "
                                   "bundle's measured latency profile: controller vs always-largest, "
                                   "always-smallest and an oracle.")
    p.add_argument("bundle")
    p.add_argument("--trace", required=True, help="trace CSV/JSON (t, temperature_c, throttled, battery_pct, ...)")
    p.add_argument("--slo-ms", type=float, help="latency SLO (default: the target profile's)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the simulated stream (default 30)")
    p.add_argument("--throttle-factor", type=float, default=2.0, help="latency multiplier while throttled")
    p.add_argument("--device", help="which profiles/<device>.json to use (default: the newest)")
    p.add_argument("--plot", help="write width and latency over time to this PNG (needs matplotlib)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p = sub.add_parser("run", help="run a bundle live: the controller picks the width",
                       description="Run the live loop: frames in, width chosen from latency, thermal and battery "
                                   "telemetry, one status line.")
    p.add_argument("bundle")
    p.add_argument("--input", help="DIR of images/.npy, or camera[:N] (default: the bundle's test samples)")
    p.add_argument("--telemetry", help="comma-separated sources, e.g. thermal,cpufreq,replay:trace.csv,"
                                       "um_meter:socket://127.0.0.1:9000 (default: the target's)")
    p.add_argument("--slo-ms", type=float, help="latency SLO (default: the target profile's)")
    p.add_argument("--frames", type=int, help="stop after this many frames")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--backend", help="executorch | tflite")
    p.add_argument("--threads", type=int)
    p.add_argument("--routing", choices=["gate", "fixed"],
                   help="a gated (dsnet) bundle: the gate picks the width per input under the controller's cap "
                        "(default) or the controller's width always runs")
    p.add_argument("--gate-head", help="a gated bundle: which width head decides (e.g. c0p5; default: the bundle's)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    from edgeslim import __version__

    parser = _Parser(prog="edgeslim", description="Slimmable networks for run-time dynamic inference on edge devices.")
    parser.add_argument("--version", action="version", version=f"edgeslim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_search(sub)
    _add_eval(sub)
    _add_bundle_commands(sub)
    _add_device_commands(sub)
    models = sub.add_parser("models", help="list built-in models, datasets and training methods")
    models.add_argument("--json", action="store_true", help="print the lists as JSON on stdout")
    targets = sub.add_parser("targets", help="list the device target profiles")
    targets.add_argument("--json", action="store_true", help="print the profiles as JSON on stdout")
    parser.commands = sub.choices
    return parser


def _print_table(rows: list[dict], title: str) -> None:
    from rich.table import Table

    from edgeslim.console import console

    table = Table(title=title)
    for col in ("config", "MFLOPs", "params", "top-1 %", "channels (first groups)"):
        table.add_column(col, justify="left" if col.startswith(("config", "channels")) else "right")
    for r in rows:
        channels = list(r["channels"].values())
        shown = ",".join(map(str, channels[:6])) + (",…" if len(channels) > 6 else "")
        if "share" in r:  # a gate: the width chosen per input
            shown = "per input: " + " · ".join(f"{100 * s:.0f}% {w}" for w, s in r["share"].items() if s)
        table.add_row(r["name"], f"{r['mflops']:.3f}", f"{r['params']:,}", f"{r['top1']:.2f}", shown)
    console.print(table)


def _search_options(args):
    from edgeslim.host.search import SearchOptions

    return SearchOptions(**{k: v for k, v in vars(args).items() if k in SearchOptions.__dataclass_fields__},
                         show_progress=not args.json)


def _report(run_dir: Path, info: dict, args, started: float) -> None:
    """The run's shipped configurations: a table and a success line, or JSON."""
    from edgeslim.console import success

    if args.json:
        keys = ("configs", "gate", "train_seconds", "world_size", "replica_max_abs_diff", "search")
        print(json.dumps({"run": str(run_dir), **{k: info[k] for k in keys if k in info}}, indent=2))
        return
    rows = [{**c, **c["meta"]} for c in info["configs"]]
    params = max(r["params"] for r in rows)
    rows += [{"name": f"gate {h['name']}", "mflops": h["mflops"], "params": params, "top1": h["top1"],
              "channels": {}, "share": dict(zip(info["gate"]["widths"], h["share"]))}
             for h in info.get("gate", {}).get("heads", [])]
    _print_table(rows, f"{info['model']} · {info['method']} · {info['dataset']}")
    if "search" in info:
        s = info["search"]
        print(f"search: {len(s['chain'])} nested sub-nets, {s['finetunes']} fine-tunes, "
              f"{s['seconds']['total']:.0f} s", file=sys.stderr)
    success("run", run_dir, time.time() - started)


def cmd_train(args) -> int:
    from edgeslim.host.train import TrainOptions, train

    options = TrainOptions(**{k: v for k, v in vars(args).items() if k in TrainOptions.__dataclass_fields__})
    options.show_progress = not args.json
    started = time.time()
    if options.method == "pss":
        from edgeslim.host.search.pipeline import train_pss

        if args.final_epochs is None:
            args.final_epochs = max(1, round(0.4 * options.epochs))
        run_dir, info = train_pss(options, _search_options(args))
    else:
        run_dir, info = train(options)
    if info.get("status") == "complete":  # not a helper process of a multi-process run
        _report(run_dir, info, args, started)
    return 0


def cmd_search(args) -> int:
    from edgeslim.host.search import search

    started = time.time()
    info = search(args.run, _search_options(args))
    _report(Path(args.run), info, args, started)
    return 0


def cmd_eval(args) -> int:
    from edgeslim.console import success
    from edgeslim.host.data import load_dataset
    from edgeslim.host.evaluate import calibration_batches, describe, gated_rows
    from edgeslim.host.plot import plot_accuracy
    from edgeslim.host.runs import load_run
    from edgeslim.subnets import load_configs

    run = load_run(args.run)
    dataset = load_dataset(args.data or run.info["data"], run.info["options"]["seed"])
    if dataset.input_shape != tuple(run.info["input_shape"]) or dataset.num_classes != run.info["num_classes"]:
        raise EdgeslimError(f"--data {args.data}: {dataset.input_shape} inputs and {dataset.num_classes} classes, "
                            f"but the run expects {tuple(run.info['input_shape'])} and {run.info['num_classes']}")
    space = run.supernet.space
    extra = (space.parse_widths(args.widths) if args.widths else []) + (
        load_configs(args.configs, space) if args.configs else [])
    for config in extra:
        if config.key() not in run.supernet.bn_stats:
            run.supernet.recalibrate_bn(config, calibration_batches(dataset, run.info["options"]["calib_samples"]))
    configs = run.configs + extra
    rows = [describe(run.supernet, c, dataset) for c in configs]
    gated = gated_rows(run.supernet, run.configs, dataset, run.info["gate"]) if "gate" in run.info else []
    if args.plot:
        started = time.time()
        curves = {run.info["method"] + (" static widths" if gated else ""): rows}
        if gated:
            curves["gate (input-dependent width)"] = gated
        if run.info.get("before_search"):  # the uniform widths as measured before the search changed the weights
            curves["uniform widths, before search"] = [{"name": c["name"], **c["meta"]}
                                                       for c in run.info["before_search"]]
        path = plot_accuracy(curves, Path(args.plot), f"{run.info['model']} on {dataset.name}: accuracy vs MFLOPs")
    if args.json:
        print(json.dumps({"run": str(run.path), "model": run.info["model"], "method": run.info["method"],
                          "dataset": dataset.name, "configs": rows, **({"gated": gated} if gated else {})},
                         indent=2))
    else:
        _print_table(rows + gated, f"{run.info['model']} · {run.info['method']} · {dataset.name} (test split)")
    if args.plot:
        success("plot", path, time.time() - started)
    return 0


def cmd_models(args) -> int:
    from edgeslim.host.data import DATASETS
    from edgeslim.host.data.loaders import NEEDS_PATH
    from edgeslim.host.models import MODELS
    from edgeslim.host.train import METHODS

    lists = {"models": list(MODELS), "datasets": [k + (":PATH" if k in NEEDS_PATH else "") for k in DATASETS],
             "methods": [*METHODS, "pss"]}
    if args.json:
        print(json.dumps(lists, indent=2))
    else:
        for kind, names in lists.items():
            print(f"{kind + ':':10}{', '.join(names)}")
    return 0


def cmd_targets(args) -> int:
    from dataclasses import asdict

    from edgeslim.device.targets import load_target, target_files

    targets = [load_target(name) for name in target_files()]
    if args.json:
        print(json.dumps([{**asdict(t), "path": str(t.path)} for t in targets], indent=2))
        return 0
    from rich.table import Table

    from edgeslim.console import console

    table = Table(title="device targets")
    for col in ("target", "backends", "precision", "threads", "telemetry"):
        table.add_column(col, no_wrap=col == "target")
    for t in targets:
        table.add_row(t.name, ", ".join(t.backends), t.precision, str(t.threads),
                      ", ".join(s["source"] for s in t.telemetry) or "-")
    console.print(table)
    return 0


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def cmd_build(args) -> int:
    from edgeslim.host.compile import BuildOptions, build

    options = BuildOptions(target=args.target, backends=_csv(args.backends), precision=args.precision,
                           out=args.out, validate=not args.no_validate, force=args.force, calib=args.calib,
                           archive=args.archive)
    out = build(args.run, options)
    if args.json:
        manifest = json.loads((out / "manifest.json").read_text())
        print(json.dumps({"bundle": str(out), "widths": manifest["widths"],
                          "artifacts": {b: {k: a[k] for k in ("file", "stored_as", "bytes", "stored_bytes",
                                                              "precision", "sha256")}
                                        for b, a in manifest["artifacts"].items()},
                          "blob_bytes": manifest["blob"]["bytes"],
                          "validation": manifest.get("validation", {}).get("rows")}, indent=2))
    return 0


def cmd_validate(args) -> int:
    from edgeslim.device.bundle import open_bundle
    from edgeslim.host.compile.builder import validation_data
    from edgeslim.host.compile.validate import validate

    bundle = open_bundle(args.bundle)
    x, y = validation_data(bundle.manifest["model"], args.samples, args.data)
    rows = validate(bundle, x, y)
    if args.json:
        print(json.dumps({"bundle": str(bundle.path), "samples": len(x), "rows": rows}, indent=2))
    else:
        from rich.table import Table

        from edgeslim.console import console

        table = Table(title=f"{bundle.path} · {len(x)} test images, 1 image per call")
        for col in ("backend", "width", "max |Δ logits|", "top-1 agree %", "top-1 %", "PyTorch top-1 %", "ok"):
            table.add_column(col)
        for r in rows:
            if r["backend"] == "coreml":
                table.add_row("coreml", r["width"], f"spec: {r['convs']} convs, {r['ops']} ops", "-", "-", "-",
                              "✓" if r["ok"] else "✗")
            else:
                table.add_row(r["backend"], r["width"], f"{r['max_abs_diff']:.2e}", f"{r['top1_agreement']:.1f}",
                              f"{r.get('top1', 0):.2f}", f"{r.get('top1_pytorch', 0):.2f}", "✓" if r["ok"] else "✗")
        console.print(table)
    return 0 if all(r["ok"] for r in rows) else 1


def cmd_unpack(args) -> int:
    from edgeslim.console import success
    from edgeslim.device.bundle import unpack

    started = time.time()
    for path in unpack(args.bundle, args.out):
        success(path.name, path, time.time() - started)
    return 0


def cmd_profile(args) -> int:
    from edgeslim.console import console, success
    from edgeslim.device.profile import ProfileOptions, profile

    options = ProfileOptions(backend=args.backend, runs=args.runs, warmup=args.warmup, threads=args.threads,
                             meter=args.meter, device=args.device)
    if options.runs < 5:
        raise EdgeslimError(f"--runs {options.runs}: use at least 5 timed runs per width")
    started = time.time()

    def show(row):
        if not args.json:
            energy = f", {row['energy_mj']:.3f} mJ" if "energy_mj" in row else ""
            console.print(f"  {row['name']}: p50 {row['p50_ms']:.3f} ms, p90 {row['p90_ms']:.3f}, "
                          f"p99 {row['p99_ms']:.3f}, first run {row['first_run_ms']:.2f} ms{energy}")

    result = profile(args.bundle, options, on_width=show)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "widths"} | {
            "widths": [{k: v for k, v in w.items() if k != "samples_ms"} for w in result["widths"]]}, indent=2))
    else:
        console.print(f"load: rebuild {result['load_ms']['rebuild_artifact']:.1f} ms, init "
                      f"{result['load_ms']['init']:.1f} ms; peak RSS {result['peak_rss_mb']:.0f} MB; "
                      f"temperature {result['temperature_c']['start']} → {result['temperature_c']['end']} °C")
        success(f"profile ({result['backend']}, {result['threads']} threads)",
                Path(args.bundle) / "profiles" / f"{result['device']}.json", time.time() - started)
    return 0


def cmd_simulate(args) -> int:
    from edgeslim.device.bundle import open_bundle
    from edgeslim.device.profile import load_profile
    from edgeslim.device.simulate import SimulationOptions, plot_timeline, simulate

    bundle = open_bundle(args.bundle, verify=False)
    options = SimulationOptions(slo_ms=args.slo_ms, fps=args.fps, throttle_factor=args.throttle_factor)
    result = simulate(load_profile(bundle.path, args.device), bundle.manifest.get("policy", {}), args.trace, options)
    if args.plot:
        plot_timeline(result, Path(args.plot))
    summary = {k: v for k, v in result.items() if k != "timeline"}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    from rich.table import Table

    from edgeslim.console import console

    table = Table(title=f"{Path(args.trace).name}: {result['frames']} frames at {result['fps']:g} fps, "
                        f"SLO {result['slo_ms']:g} ms ({result['backend']} profile of {result['profile_device']})")
    for col in ("policy", "deadline misses %", "mean top-1 %", "switches/min", "time per width %"):
        table.add_column(col)
    for name, r in result["policies"].items():
        table.add_row(name, f"{r['miss_rate_pct']:.2f}", f"{r['mean_top1']:.2f}", f"{r['switches_per_min']:.1f}",
                      " ".join(f"{w}:{p:.0f}" for w, p in r["time_per_width_pct"].items()))
    console.print(table)
    if args.plot:
        console.print(f"[green]✓[/green] plot saved to {args.plot}")
    return 0


def cmd_run(args) -> int:
    from edgeslim.device.live import LiveOptions, live, parse_telemetry, status_line

    options = LiveOptions(input=args.input, telemetry=parse_telemetry(args.telemetry) if args.telemetry else None,
                          slo_ms=args.slo_ms, frames=args.frames, seconds=args.seconds, backend=args.backend,
                          threads=args.threads, routing=args.routing, gate_head=args.gate_head)
    if args.json:
        summary = live(args.bundle, options)
        print(json.dumps(summary, indent=2))
        return 0
    from edgeslim.console import console

    def show(s):
        console.print(status_line(s), end="\r", soft_wrap=True)

    summary = live(args.bundle, options, status=show if console.is_terminal else None)
    console.print(" " * 80, end="\r")
    accuracy = f", top-1 {summary['top1']:.1f} %" if summary["top1"] is not None else ""
    misses = f", misses {summary['miss_rate_pct']:.2f} %" if summary["miss_rate_pct"] is not None else ""
    console.print(f"[green]✓[/green] {summary['frames']} frames in {summary['seconds']:.1f} s ({summary['fps']:.0f} "
                  f"fps, p50 {summary['p50_ms']:.3f} ms{misses}{accuracy}, {summary['switches']} switches); "
                  "time per width: " + " ".join(f"{w} {p:.0f} %" for w, p in summary["time_per_width_pct"].items()))
    return 0


COMMANDS = {"profile": cmd_profile, "simulate": cmd_simulate, "run": cmd_run,
            "train": cmd_train, "search": cmd_search, "eval": cmd_eval, "models": cmd_models,
            "targets": cmd_targets, "build": cmd_build, "validate": cmd_validate, "unpack": cmd_unpack}


HOST_MODULES = {"torch", "executorch", "litert_torch", "coremltools", "sklearn", "matplotlib", "mlxtend", "torchao"}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # let the subcommand's parser, which knows its options, suggest the closest one
        parser.commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return COMMANDS[args.command](args)
    except EdgeslimError as exc:
        print(f"edgeslim {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] in HOST_MODULES:  # a host command on the torch-free device install
            print(f"edgeslim {args.command}: error: needs {exc.name.split('.')[0]}, which the device install "
                  f"lacks; run it on the host (pip install \"edgeslim[host]\")", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt:
        print(f"edgeslim {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
