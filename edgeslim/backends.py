"""The one table of backends: artifact, exporter, device engine, precisions, where each runs (torch-free).

Like Ultralytics' ``export_formats()``: targets, the bundle compiler, the device engines, validation and the
CLI all read :data:`BACKENDS`. Exporters (host, torch) and engines (device) are named as ``module:attribute``
and imported only when used, so reading the table never imports a toolchain.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass

PRECISIONS = ("fp32", "fp16", "int8")
INPUT_LAYOUTS = ("NCHW", "NHWC")  # of the image input: channels first (PyTorch) or last (an Android Bitmap)


@dataclass(frozen=True)
class Backend:
    name: str
    label: str
    artifact: str                 # the complete artifact's file name inside an unpacked bundle
    exporter: str                 # host: ``module:function(models, example, path, job) -> path``
    engine: str | None            # device: ``module:class`` that runs it; None where it cannot run off its platform
    runtimes: tuple[str, ...]     # Python modules providing the engine (any one of them)
    precisions: tuple[str, ...]   # what it stores; another requested precision falls back to fp32
    layouts: tuple[str, ...]      # image input layouts it can take; another requested layout falls back to NCHW
    stored: str                   # "skeleton": weights cut out and rebuilt from the shared blob; "whole"
    folded_bn: bool               # exported with BN folded into the convs (Core ML keeps BN apart to share weights)
    runs_on: str

    def runnable_here(self) -> bool:
        return self.engine is not None and any(importlib.util.find_spec(m) is not None for m in self.runtimes)

    def precision_for(self, requested: str) -> str:
        return requested if requested in self.precisions else "fp32"

    def layout_for(self, requested: str) -> str:
        return requested if requested in self.layouts else "NCHW"

    def load_engine(self) -> type:
        module, _, name = self.engine.partition(":")
        return getattr(importlib.import_module(module), name)

    def load_exporter(self):
        module, _, name = self.exporter.partition(":")
        return getattr(importlib.import_module(module), name)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("executorch", "ExecuTorch .pte (XNNPACK)", "model.pte",
            "edgeslim.host.compile.exporters:export_executorch", "edgeslim.device.engines:ExecuTorchEngine",
            ("executorch",), ("fp32", "int8"), ("NCHW",), "skeleton", True,
            "Android, iOS, Linux (XNNPACK CPU delegate)"),
    Backend("coreml", "Core ML .mlpackage", "model.mlpackage",
            "edgeslim.host.compile.coreml:export_coreml", None,
            (), ("fp32", "fp16", "int8"), ("NCHW",), "whole", False,
            "iOS 18 / macOS 15 (elsewhere checked by its spec)"),
    Backend("tflite", "TFLite .tflite", "model.tflite",
            "edgeslim.host.compile.exporters:export_tflite", "edgeslim.device.engines:TFLiteEngine",
            ("ai_edge_litert", "tflite_runtime"), ("fp32", "int8"), ("NCHW", "NHWC"), "skeleton", True,
            "Android, Linux boards (LiteRT or tflite-runtime)"),
)}


def runnable_here() -> list[str]:
    """The backends this machine can run, in table order."""
    return [name for name, b in BACKENDS.items() if b.runnable_here()]


def backends_table() -> list[dict]:
    """One row per backend (what ``edgeslim backends`` prints)."""
    return [{"backend": b.name, "label": b.label, "artifact": b.artifact, "precisions": list(b.precisions),
             "layouts": list(b.layouts), "stored": b.stored, "runs_on": b.runs_on, "runs_here": b.runnable_here()}
            for b in BACKENDS.values()]
