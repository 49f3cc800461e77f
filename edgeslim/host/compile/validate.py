"""Check a bundle against PyTorch: every width of every backend this machine runs, and Core ML by its spec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgeslim.backends import runnable_here
from edgeslim.device.bundle.manifest import BLOB, Bundle, BundleError, open_bundle
from edgeslim.device.runtime import DynamicModel
from edgeslim.host.nn import Supernet
from edgeslim.host.runs import load_supernet_tensors, new_supernet
from edgeslim.quiet import quiet
from edgeslim.subnets import SubnetConfig


def supernet_from_bundle(bundle: Bundle) -> tuple[Supernet, list[SubnetConfig]]:
    """The PyTorch supernet and shipped configurations, rebuilt from the bundle's blob (the reference)."""
    spec = bundle.manifest["model"]
    info = {"model": spec["name"], "input_shape": spec["input_shape"], "num_classes": spec["num_classes"],
            "granularity": spec["granularity"], **({"gate": bundle.manifest["gate"]} if "gate" in bundle.manifest
                                                   else {})}
    supernet = new_supernet(info)
    configs = [supernet.space.validate(SubnetConfig(w["name"], w["channels"])) for w in bundle.widths]
    blob = {k: torch.from_numpy(v.copy()) for k, v in bundle.blob().items()}
    # the blob keeps no running statistics of the network itself (each width has its own): take them as built
    tensors = {**supernet.net.state_dict(), **blob}
    load_supernet_tensors(supernet, tensors, configs, bundle.path / BLOB)
    return supernet.eval(), configs


@torch.no_grad()
def reference_logits(supernet: Supernet, config: SubnetConfig, x: np.ndarray) -> np.ndarray:
    supernet.set_config(config)
    return supernet(torch.from_numpy(x)).numpy()


def check_runtime(bundle: Bundle, backend: str, references: dict[str, np.ndarray], x: np.ndarray,
                  y: np.ndarray | None, gate_reference: np.ndarray | None = None) -> list[dict]:
    """Run every width on ``backend`` one image at a time; compare logits and top-1 with ``references``
    (and a gated bundle's routing with ``gate_reference``, PyTorch's choices, and its cascade's)."""
    model = DynamicModel(bundle, backend, threads=2)
    rows = [_check_gate(model, references, gate_reference, x, y)] if model.gate else []
    if model.gate and model.gate.get("cascade"):
        rows.append(_check_cascade(model, references, x, y))
    model.set_routing("fixed")
    for width in model.widths:
        model.set_width(width)
        logits, _ = _routed(model, x)
        expected = references[width]
        rows.append(_row(backend, width, logits, expected, logits.argmax(1) == expected.argmax(1), y))
    return rows


@torch.no_grad()
def gate_choices(supernet: Supernet, configs: list[SubnetConfig], gate: dict, x: np.ndarray) -> np.ndarray:
    """The ladder index PyTorch's gate (the bundle's default head) picks for each image."""
    supernet.set_config(configs[-1])  # the part before the gate is the same at every width
    _, hidden = supernet.gate.attend(supernet.halves()[0](torch.from_numpy(x)))
    return supernet.gate.heads[gate["default"]](hidden).argmax(1).numpy()


def _check_gate(model: DynamicModel, references: dict[str, np.ndarray], expected_choice: np.ndarray,
                x: np.ndarray, y: np.ndarray | None) -> dict:
    """Gate routing on the device against PyTorch's: the same width per image, and its logits."""
    widths = model.bundle.manifest["gate"]["widths"]
    logits, choice = _routed(model, x)
    expected = np.stack([references[widths[c]][i] for i, c in enumerate(expected_choice)])
    same = np.array([widths.index(w) for w in choice]) == expected_choice
    return _row(model.backend, "gate", logits, expected, same, y)


def _check_cascade(model: DynamicModel, references: dict[str, np.ndarray], x: np.ndarray,
                   y: np.ndarray | None) -> dict:
    """Cascade routing (the bundle's default share) on the device against PyTorch's logits: the narrowest width,
    or the widest where the narrowest's top softmax probability is below the threshold."""
    ladder = model.bundle.manifest["gate"]["widths"]
    model.set_routing("cascade")
    model.set_width(ladder[-1])
    narrow = references[ladder[0]]
    probs = np.exp(narrow - narrow.max(1, keepdims=True))
    escalate = probs.max(1) / probs.sum(1) < model.threshold
    logits, choice = _routed(model, x)
    expected = np.where(escalate[:, None], references[ladder[-1]], narrow)
    same = (np.array(choice) == ladder[-1]) == escalate
    return _row(model.backend, "cascade", logits, expected, same, y)


def _routed(model: DynamicModel, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The model's logits for each image at its current routing, and the width each came from."""
    logits, widths = [], []
    for i in range(len(x)):
        logits.append(model(x[i:i + 1]))
        widths.append(model.last_width)
    return np.concatenate(logits), widths


def _row(backend: str, width: str, logits: np.ndarray, expected: np.ndarray, agree: np.ndarray,
         y: np.ndarray | None) -> dict:
    """One validation row: the logits against PyTorch's, the share of images that ``agree`` (``top1_agreement``:
    the same top-1 for a width, the same width chosen for a routing) and, with labels, top-1 on both sides."""
    row = {"backend": backend, "width": width, "max_abs_diff": float(np.abs(logits - expected).max()),
           "top1_agreement": round(100.0 * float(agree.mean()), 2)}
    if y is not None:
        row["top1"] = round(100.0 * float((logits.argmax(1) == y).mean()), 2)
        row["top1_pytorch"] = round(100.0 * float((expected.argmax(1) == y).mean()), 2)
        row["top1_drop"] = round(row["top1_pytorch"] - row["top1"], 2)
    return row


def check_coreml_spec(bundle: Bundle) -> list[dict]:
    """Core ML cannot run off Apple platforms: check functions, input/output shapes, ops and the weight file."""
    with quiet():  # version warnings on import
        import coremltools as ct

    path = bundle.artifact_path("coreml")
    weights = path / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    if not weights.is_file():
        raise BundleError(f"{path}: no weight.bin; the Core ML package is incomplete, rebuild the bundle")
    spec = ct.utils.load_spec(str(path))
    functions = spec.description.functions
    names = [f.name for f in functions]
    rows = []
    num_classes = bundle.manifest["model"]["num_classes"]
    gate = bundle.manifest.get("gate")
    width_input = gate["features_shape"] if gate else bundle.manifest["input"]["shape"]
    if gate:  # the gate function: image in, features and width logits out
        function = functions[names.index(gate["entry"])] if gate["entry"] in names else None
        if function is None:
            raise BundleError(f"{path}: function '{gate['entry']}' missing; rebuild the bundle")
        shapes = [list(o.type.multiArrayType.shape) for o in function.output]
        ops = [op.type for block in spec.mlProgram.functions[gate["entry"]].block_specializations.values()
               for op in block.operations]
        rows.append({"backend": "coreml", "width": "gate",
                     "input_shape": list(function.input[0].type.multiArrayType.shape), "output_shape": shapes,
                     "ops": len(ops), "convs": ops.count("conv"),
                     "spec_ok": shapes[0] == gate["features_shape"]
                     and shapes[1] == [1, len(gate["heads"]), len(gate["widths"])]})
    for width in bundle.widths:
        entry = width["backends"]["coreml"]["entry"]
        if entry not in names:
            raise BundleError(f"{path}: function '{entry}' missing (has {', '.join(names)}); rebuild the bundle")
        function = functions[names.index(entry)]
        in_shape = list(function.input[0].type.multiArrayType.shape)
        out_shape = list(function.output[0].type.multiArrayType.shape)
        ops = [op.type for block in spec.mlProgram.functions[entry].block_specializations.values()
               for op in block.operations]
        ok = in_shape == width_input and out_shape[-1] == num_classes
        rows.append({"backend": "coreml", "width": width["name"], "input_shape": in_shape,
                     "output_shape": out_shape, "ops": len(ops), "convs": ops.count("conv"),
                     "slices": ops.count("slice_by_index"),
                     "weight_bytes": weights.stat().st_size, "spec_ok": ok})
    return rows


INT8_MIN_AGREEMENT = 90.0  # % of top-1 decisions an int8 artifact must share with fp32 PyTorch
INT8_TOLERANCE = 1.0  # and its logits may differ from PyTorch's by at most the logit scale itself


def validate(bundle: Bundle, x: np.ndarray, y: np.ndarray | None = None, backends: list[str] | None = None,
             tolerance: float = 1e-3) -> list[dict]:
    """One row per width × backend; ``ok`` is false where fp32/fp16 logits differ by more than ``tolerance``
    (relative to the logit scale), an int8 artifact agrees on fewer than INT8_MIN_AGREEMENT % of top-1
    decisions or differs by more than INT8_TOLERANCE of the logit scale, or a Core ML spec does not match the
    manifest."""
    supernet, configs = supernet_from_bundle(bundle)
    references = {c.name: reference_logits(supernet, c, x) for c in configs}
    gate = bundle.manifest.get("gate")
    choices = gate_choices(supernet, [c for n in gate["widths"] for c in configs if c.name == n], gate, x) \
        if gate else None
    scale = max(1.0, max(float(np.abs(r).max()) for r in references.values()))
    rows = []
    for backend in backends or bundle.backends:
        if backend == "coreml":
            rows += [{**r, "ok": r["spec_ok"]} for r in check_coreml_spec(bundle)]
        elif backend in runnable_here():
            precision = bundle.manifest["artifacts"][backend].get("precision", "fp32")
            for r in check_runtime(bundle, backend, references, x, y, choices):
                ok = (r["top1_agreement"] >= INT8_MIN_AGREEMENT and r["max_abs_diff"] <= INT8_TOLERANCE * scale
                      if precision == "int8" else r["max_abs_diff"] <= tolerance * scale)
                rows.append({**r, "precision": precision, "ok": ok})
    return rows


def validation_data(info: dict, samples: int, data: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """The first ``samples`` test images (all with 0) of the run's data (or ``data``), normalized as the network
    expects; ``info``: a run.json, or a manifest's ``model`` entry."""
    from edgeslim.host.data import load_dataset

    dataset = load_dataset(data or info["data"], seed=info.get("seed", info.get("options", {}).get("seed", 0)))
    x = dataset.normalize(dataset.x_test[:samples]) if samples else dataset.normalize(dataset.x_test)
    y = dataset.y_test[: len(x)]
    return x.astype(np.float32), y


def validate_bundle(path: str | Path, data: str | None = None, samples: int = 0) -> tuple[Bundle, int, list[dict]]:
    """`edgeslim validate`: the bundle at ``path`` against PyTorch on ``samples`` test images of ``data``
    (default: all of the run's test split); returns the bundle, the image count and one row per width × backend."""
    bundle = open_bundle(path)
    x, y = validation_data(bundle.manifest["model"], samples, data)
    return bundle, len(x), validate(bundle, x, y)
