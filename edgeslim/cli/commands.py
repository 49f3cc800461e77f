"""One small function per `edgeslim` command: parsed arguments → options → the Python API → render."""

from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path

from edgeslim.cli import render
from edgeslim.console import console, success
from edgeslim.files import output_file


def options_from(cls, args, **overrides):
    """An options object from the parsed arguments that name its fields (unset ones keep the class default)."""
    names = {f.name for f in fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    return cls(**{**given, **overrides})


def _search_options(args):
    from edgeslim.host.search.options import SearchOptions

    return options_from(SearchOptions, args, show_progress=not args.json)


def _show_run(path: Path, info: dict, args, started: float) -> None:
    """A run's shipped configurations: a table and a success line, or JSON."""
    if args.json:
        render.print_json(render.run_json(path, info))
    else:
        render.width_table(render.run_rows(info), f"{info['model']} · {info['method']} · {info['dataset']}")
    if "search" in info:
        s = info["search"]
        console.print(f"search: {len(s['chain'])} nested sub-nets, {s['finetunes']} fine-tunes, "
                      f"{s['seconds']['total']:.0f} s")
    success("run", path, time.time() - started)


def cmd_train(args) -> int:
    from edgeslim.host.api import train
    from edgeslim.host.train.options import TrainOptions

    search = _search_options(args) if args.method == "pss" else None
    options = options_from(TrainOptions, args, show_progress=not args.json, search=search)
    started = time.time()
    run = train(options)
    if run is not None:  # None: a helper process of a multi-process run
        _show_run(run.path, run.info, args, started)
    return 0


def cmd_search(args) -> int:
    from edgeslim.host.api import search

    started = time.time()
    run = search(args.run, _search_options(args))
    _show_run(run.path, run.info, args, started)
    return 0


def cmd_eval(args) -> int:
    from edgeslim.host.runs import load_run

    if args.plot:
        output_file(args.plot, "--plot")
    run = load_run(args.run)
    rows = run.evaluate(args.data, args.widths, args.configs)
    if args.plot:
        started = time.time()
        plot = run.plot(args.plot, args.data, rows)
    dataset = args.data or run.info["dataset"]
    if args.json:
        gated = [r for r in rows if "share" in r]
        render.print_json({"run": str(run.path), "model": run.info["model"], "method": run.info["method"],
                           "dataset": dataset, "configs": [r for r in rows if "share" not in r],
                           **({"gated": gated} if gated else {})})
    else:
        render.width_table(rows, f"{run.info['model']} · {run.info['method']} · {dataset} (test split)")
    if args.plot:
        success("plot", plot, time.time() - started)
    return 0


def cmd_models(args) -> int:
    from edgeslim.host.data import DATASETS
    from edgeslim.host.data.loaders import NEEDS_PATH
    from edgeslim.host.models import MODELS
    from edgeslim.host.train.options import TRAINING_METHODS

    lists = {"models": list(MODELS), "datasets": [k + (":PATH" if k in NEEDS_PATH else "") for k in DATASETS],
             "methods": list(TRAINING_METHODS)}
    if args.json:
        render.print_json(lists)
    else:
        for kind, names in lists.items():
            print(f"{kind + ':':10}{', '.join(names)}")
    return 0


def cmd_targets(args) -> int:
    from dataclasses import asdict

    from edgeslim.device.targets import load_target, target_files

    targets = [load_target(name) for name in target_files()]
    if args.json:
        render.print_json([{**asdict(t), "path": str(t.path)} for t in targets])
    else:
        render.targets_table(targets)
    return 0


def cmd_backends(args) -> int:
    from edgeslim.backends import backends_table

    rows = backends_table()
    render.print_json(rows) if args.json else render.backends_table(rows)
    return 0


def cmd_build(args) -> int:
    from edgeslim.host.api import build
    from edgeslim.host.compile.options import BuildOptions

    bundle = build(args.run, options_from(BuildOptions, args))
    if args.json:
        manifest = bundle.manifest
        render.print_json({"bundle": str(bundle.path), "widths": manifest["widths"],
                           "artifacts": {b: {k: a[k] for k in ("file", "stored_as", "bytes", "stored_bytes",
                                                               "precision", "sha256")}
                                         for b, a in manifest["artifacts"].items()},
                           "blob_bytes": manifest["blob"]["bytes"],
                           "validation": manifest.get("validation", {}).get("rows")})
    return 0


def cmd_validate(args) -> int:
    from edgeslim.host.compile.validate import validate_bundle

    bundle, samples, rows = validate_bundle(args.bundle, args.data, args.samples)
    if args.json:
        render.print_json({"bundle": str(bundle.path), "samples": samples, "rows": rows})
    else:
        render.validation_table(bundle.path, samples, rows)
    return 0 if all(r["ok"] for r in rows) else 1


def cmd_unpack(args) -> int:
    from edgeslim.device.bundle import unpack

    started = time.time()
    paths = unpack(args.bundle, args.out)
    if args.json:
        render.print_json({"bundle": args.bundle, "artifacts": [str(p) for p in paths]})
    for path in paths:
        success(path.name, path, time.time() - started)
    return 0


def cmd_profile(args) -> int:
    from edgeslim.device.profile import ProfileOptions, profile

    options = options_from(ProfileOptions, args)
    started = time.time()
    result = profile(args.bundle, options, on_width=None if args.json else lambda r: console.print(
        render.profile_width(r)))
    if args.json:
        render.print_json(render.profile_json(result.data))
        return 0
    load = result.data["load_ms"]
    console.print(f"load: rebuild {load['rebuild_artifact']:.1f} ms, init {load['init']:.1f} ms; peak RSS "
                  f"{result.data['peak_rss_mb']:.0f} MB; temperature {result.data['temperature_c']['start']} → "
                  f"{result.data['temperature_c']['end']} °C")
    success(f"profile ({result.backend}, {result.data['threads']} threads)", result.path, time.time() - started)
    return 0


def cmd_simulate(args) -> int:
    from edgeslim.device.simulate import SimulationOptions, simulate

    if args.plot:
        output_file(args.plot, "--plot")
    started = time.time()
    result = simulate(args.bundle, args.trace, options_from(SimulationOptions, args, profile=args.profile))
    if args.plot:
        plot = result.plot(args.plot)
    if args.json:
        render.print_json(result.summary)
        return 0
    render.simulation_table(result.summary, Path(result.summary["trace"]).name)
    if args.plot:
        success("plot", plot, time.time() - started)
    return 0


def cmd_run(args) -> int:
    from edgeslim.device.live import LiveOptions, live, parse_telemetry, started_line, status_line

    options = options_from(LiveOptions, args, telemetry=parse_telemetry(args.telemetry) if args.telemetry else None)

    def start(model):
        console.print(started_line(model))

    if args.json:
        summary = live(args.bundle, options, on_start=start)
        render.print_json(summary)
        return 130 if summary["interrupted"] else 0

    def show(s):
        console.print(status_line(s), end="\r")

    summary = live(args.bundle, options, status=show if console.is_terminal else None, on_start=start,
                   on_prediction=lambda p: print(render.prediction_line(p), flush=True))
    if console.is_terminal:
        console.print(" " * 80, end="\r")
    mark = "[yellow]interrupted:[/yellow]" if summary["interrupted"] else "[green]✓[/green]"
    console.print(f"{mark} {render.live_summary(summary)}")
    return 130 if summary["interrupted"] else 0


COMMANDS = {"train": cmd_train, "search": cmd_search, "eval": cmd_eval, "models": cmd_models,
            "targets": cmd_targets, "backends": cmd_backends, "build": cmd_build, "validate": cmd_validate,
            "unpack": cmd_unpack, "profile": cmd_profile, "simulate": cmd_simulate, "run": cmd_run}
