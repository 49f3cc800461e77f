"""`edgeslim build`: every shipped width of a run, for every backend of a target, in one bundle.

Steps (all inside ``<OUT>.partial``, renamed to ``<OUT>`` only when everything succeeded):
1. the shared weight blob (``weights.safetensors``): full-width weights + each width's BN statistics;
2. each width as a static model with BN folded, constants computed from the blob (folding.py);
3. one artifact per backend holding every width (exporters.py); ExecuTorch and TFLite artifacts are stored as
   skeletons with their weights cut out (punch.py), Core ML whole;
4. ``manifest.json``; 5. a quick validation of every runnable backend against PyTorch (validate.py).
"""

from __future__ import annotations

import json
import shutil
import tarfile
import time
import zlib
from contextlib import nullcontext
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from edgeslim import __version__
from edgeslim.backends import BACKENDS
from edgeslim.console import console, size_of, success
from edgeslim.device.bundle.manifest import BLOB, MANIFEST, SAMPLES, open_bundle, sha256_bytes, sha256_of
from edgeslim.device.targets import load_target
from edgeslim.errors import EdgeslimError
from edgeslim.files import atomic_path, make_dir, publish_dir
from edgeslim.formats import BUNDLE
from edgeslim.host.compile.exporters import IMAGE, ExportJob, entry_io
from edgeslim.host.compile.folding import blob_tensors, folded_width
from edgeslim.host.compile.options import BuildOptions
from edgeslim.host.compile.punch import punch
from edgeslim.host.compile.validate import validate, validation_data
from edgeslim.host.data import load_dataset
from edgeslim.host.gate.programs import gate_recipes, gated_programs
from edgeslim.host.runs import Run, load_run
from edgeslim.jsonfile import read_json
from edgeslim.resources import data_dir

INT8_RECIPE = "int8-ptq.json"


def _metadata(info: dict, configs: list[dict]) -> dict:
    """What an artifact carries about itself, so it is usable without the manifest."""
    return {"edgeslim": __version__, "model": info["model"], "input_shape": [1, *info["input_shape"]],
            "preprocessing": info.get("preprocessing"), "classes": info.get("classes"),
            "widths": [{"name": c["name"], "mflops": c["meta"]["mflops"], "top1": c["meta"].get("top1")}
                       for c in configs]}


def build(run: Run | str | Path, options: BuildOptions) -> Path:
    """Build the bundle of ``run`` (a loaded run or its directory); returns the bundle's path."""
    started = time.perf_counter()
    target = load_target(options.target)
    backends, precision = list(options.backends or target.backends), options.precision or target.precision
    layout = options.input_layout or target.input_layout
    run = run if isinstance(run, Run) else load_run(run)
    out = Path(options.out) if options.out else run.path.with_name(f"{run.path.name}-{target.name}")
    if out.exists() and not options.force:
        raise EdgeslimError(f"{out}: already exists; pass --force to replace it or --out another directory")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)  # left by a build that was killed
    make_dir(partial, "--out")
    try:
        manifest = _write_bundle(run, target, backends, precision, layout, partial, options)
        _write_samples(partial, manifest, run.info)
        if options.validate:
            _quick_validation(partial, manifest, run.info, options)
        publish_dir(partial, out)
        if options.archive:
            archive = write_archive(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if not options.quiet:
        if options.archive:
            success("archive", archive, time.perf_counter() - started)
        gated = " + gate" if "gate" in run.info else ""
        success(f"bundle {target.name}", out, time.perf_counter() - started,
                f"{len(run.configs)} widths{gated} × {len(backends)} backends")
    return out


def write_archive(bundle: Path) -> Path:
    """``<bundle>.tar``: the whole bundle as one file (uncompressed: skeletons are zlib, weights do not shrink)."""
    archive = bundle.with_name(bundle.name + ".tar")
    with atomic_path(archive) as tmp, tarfile.open(tmp, "w") as tar:
        for file in sorted(p for p in bundle.rglob("*") if p.is_file()):
            tar.add(file, arcname=file.relative_to(bundle).as_posix())
    return archive


def _write_bundle(run, target, backends: list[str], precision: str, layout: str, partial: Path,
                  options: BuildOptions) -> dict:
    from safetensors.numpy import save_file

    blob = blob_tensors(run.supernet, run.configs)
    save_file(blob, str(partial / BLOB))
    models, recipes = {}, {}
    for config in run.configs:
        models[config.name], width_recipes = folded_width(run.supernet, config, blob)
        recipes.update({f"{config.name}/{name}": r for name, r in width_recipes.items()})
    unfolded = {config.name: run.supernet.extract(config) for config in run.configs}  # Core ML keeps BN apart
    example = torch.zeros(1, *run.info["input_shape"])
    metadata = _metadata(run.info, run.info["configs"])
    gate, io = run.info.get("gate"), None
    if gate:  # DS-Net++: one `gate` program (prefix, attention, width heads), then one remainder per width
        if precision == "int8":
            raise EdgeslimError("--precision int8 is not supported for gated (dsnet) runs yet; use fp32 or fp16")
        models, example = gated_programs(run.supernet, {n: models[n] for n in gate["widths"]})
        unfolded, _ = gated_programs(run.supernet, {n: unfolded[n] for n in gate["widths"]})
        recipes.update(gate_recipes(run.supernet))
        io = {"gate": (IMAGE, ["features", "width_logits"]), **{n: ("features", ["logits"]) for n in gate["widths"]}}
        metadata["gate"] = _gate_manifest(run, example)
    calibration = _calibration(run.info, options.calib) if precision == "int8" else None
    artifacts = {}
    for backend in backends:
        artifacts[backend] = _export(backend, models if BACKENDS[backend].folded_bn else unfolded, example, partial,
                                     metadata, recipes, blob, precision, layout, options.quiet, calibration, io)
    manifest = {
        "schema": BUNDLE, "edgeslim": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {"name": run.info["model"], "input_shape": run.info["input_shape"],
                  "num_classes": run.info["num_classes"], "granularity": run.info["granularity"],
                  "run": str(run.path), "method": run.info["method"], "data": run.info["data"],
                  "seed": run.info["options"]["seed"]},
        "input": {"name": IMAGE, "shape": [1, *run.info["input_shape"]], "dtype": "float32",
                  "layout": "NCHW", "preprocessing": run.info.get("preprocessing")},
        "classes": run.info.get("classes"),
        "widths": [{"name": c["name"], "channels": c["channels"], "mflops": c["meta"]["mflops"],
                    "params": c["meta"]["params"], "top1": c["meta"].get("top1"),
                    "backends": {b: {"artifact": a["file"], "entry": c["name"], "sha256": a["sha256"]}
                                 for b, a in artifacts.items()}}
                   for c in run.info["configs"]],
        "target": {k: v for k, v in vars(target).items() if k != "path"},
        "policy": target.policy,
        "blob": {"file": BLOB, "sha256": sha256_of(partial / BLOB), "bytes": (partial / BLOB).stat().st_size},
        "artifacts": artifacts,
        "tensors": {name: recipes[name] for name in sorted({h[2] for a in artifacts.values()
                                                           for h in a.get("holes", [])})},
    }
    if gate:
        manifest["gate"] = metadata["gate"]
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _gate_manifest(run, examples: dict) -> dict:
    """What the device needs to route: the gate entry, the widths in head order, the heads and their metrics, the
    cascade's thresholds (runs trained before the cascade have none)."""
    gate = run.info["gate"]
    manifest = {"entry": "gate", "before": gate["before"], "hidden": gate["hidden"], "widths": gate["widths"],
                "heads": [{k: h[k] for k in ("name", "complexity_weight", "top1", "mflops", "share")}
                          for h in gate["heads"]],
                "default": gate["default"], "features_shape": list(examples[gate["widths"][0]].shape),
                "mflops": gate["gate_mflops"]}
    if "cascade" in gate:
        manifest["cascade"] = {k: gate["cascade"][k] for k in ("shares", "thresholds", "default")}
    return manifest


def _calibration(info: dict, calib: str | None) -> tuple[torch.Tensor, dict]:
    """The int8 recipe (calibration/int8-ptq.json) and its calibration images (normalized like training)."""
    recipe = read_json(data_dir("calibration") / INT8_RECIPE, dict, "an int8 quantization recipe")
    dataset = load_dataset(calib or info["data"], seed=info["options"]["seed"])
    if dataset.input_shape != tuple(info["input_shape"]):
        raise EdgeslimError(f"--calib {calib}: images are {dataset.input_shape}, the model takes "
                            f"{tuple(info['input_shape'])}")
    images = dataset.normalize(dataset.x_train[: int(recipe.get("samples", 128))])
    return torch.from_numpy(images), recipe


def _export(name: str, models, example, partial: Path, metadata, recipes, blob, precision, layout, quiet,
            calibration=None, io=None) -> dict:
    backend = BACKENDS[name]
    path = partial / backend.artifact
    precision, layout = backend.precision_for(precision), backend.layout_for(layout)
    images, recipe = calibration if calibration is not None else (None, None)
    job = ExportJob(metadata, precision, layout, images, recipe,
                    {k: v for k, v in blob.items() if v.ndim in (2, 4)}, io)
    started = time.perf_counter()
    with console.status(f"exporting {backend.label} ({len(models)} programs)…", spinner="dots") \
            if not quiet else nullcontext():
        backend.load_exporter()(models, example, path, job)
    entry = {"file": backend.artifact, "precision": precision, "entries": list(models), "layout": layout,
             "io": {n: dict(zip(("input", "outputs"), entry_io(job, n))) for n in models}}
    if backend.stored == "whole":
        entry.update(stored_as=backend.artifact, sha256=sha256_of(path), stored_sha256=sha256_of(path),
                     bytes=size_of(path), stored_bytes=size_of(path))
    else:
        data = path.read_bytes()
        skeleton, holes = punch(data, recipes, blob)
        packed = zlib.compress(skeleton, 9)  # what is left is mostly structure and alignment padding
        stored = partial / f"{backend.artifact}.skel"
        stored.write_bytes(packed)
        path.unlink()
        entry.update(stored_as=stored.name, compression="zlib", sha256=sha256_bytes(data),
                     stored_sha256=sha256_bytes(packed), bytes=len(data), stored_bytes=len(packed), holes=holes)
    if not quiet:
        shared = "weights shared by its functions" if backend.stored == "whole" else "+ shared blob"
        entries = f"gate + {len(models) - 1} widths" if "gate" in models else f"{len(models)} widths"
        success(backend.label, partial.with_suffix("") / entry["stored_as"], time.perf_counter() - started,
                f"{entries}, {precision}, {layout} input, {shared}", size=entry["stored_bytes"])
    return entry


def _write_samples(partial: Path, manifest: dict, info: dict, count: int = 64) -> None:
    """A few raw test images and labels (``samples.npz``) so the device can run and check the bundle at once."""
    dataset = load_dataset(info["data"], seed=info["options"]["seed"])
    np.savez(partial / SAMPLES, x=dataset.x_test[:count].astype(np.float32), y=dataset.y_test[:count])
    manifest["samples"] = {"file": SAMPLES, "count": int(min(count, len(dataset.x_test))),
                           "sha256": sha256_of(partial / SAMPLES), "format": "raw images in [0, 1], NCHW"}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))


def _quick_validation(partial: Path, manifest: dict, info: dict, options: BuildOptions) -> None:
    x, y = validation_data(info, options.validation_samples)
    bundle = open_bundle(partial)
    rows = validate(bundle, x, y)
    bad = [r for r in rows if not r["ok"]]
    if bad:
        r = bad[0]
        raise EdgeslimError(f"validation failed: {r['backend']} width {r['width']} differs from PyTorch "
                            f"({r.get('max_abs_diff', 'spec mismatch')}); no bundle written")
    manifest["validation"] = {"samples": len(x), "rows": rows}
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if not options.quiet:
        worst = max((r["max_abs_diff"] for r in rows if "max_abs_diff" in r), default=0.0)
        agree = min((r["top1_agreement"] for r in rows if "top1_agreement" in r), default=100.0)
        checked = sorted({r["backend"] for r in rows})
        console.print(f"[green]✓[/green] validated {', '.join(checked)} on {len(x)} test images: "
                      f"max |Δ logits| {worst:.2e}, top-1 agreement ≥ {agree:.1f} %")
        drops = [r["top1_drop"] for r in rows if r.get("precision") == "int8" and "top1_drop" in r]
        if drops:
            console.print(f"  int8 top-1 drop per width on these images: {max(drops):+.2f} points at worst "
                          f"(`edgeslim validate` measures the whole test split)")
