"""One exporter per backend: a dict of static width models → one artifact holding every width.

Each uses the backend's own toolchain (torch.export + ExecuTorch/XNNPACK, litert-torch, coremltools), has the
signature ``export(models, example, path, job) -> path`` (the ``exporter`` column of
:data:`edgeslim.backends.BACKENDS`) and names its entry points after the widths (``w025`` ...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from edgeslim.quiet import quiet

Example = torch.Tensor | dict[str, torch.Tensor]  # one input for every entry, or one per entry


@dataclass(frozen=True)
class ExportJob:
    """What an exporter needs besides the models: the artifact's metadata, its precision, int8 calibration
    images and recipe, (Core ML) the full-width weights, every entry's input and output names (``io``) and the
    layout of the image input (``layout``, for the backends that take NHWC)."""

    metadata: dict = field(default_factory=dict)
    precision: str = "fp32"
    layout: str = "NCHW"
    calibration: torch.Tensor | None = None
    recipe: dict | None = None
    full_weights: dict[str, np.ndarray] | None = None
    io: dict[str, tuple[str, list[str]]] | None = None

    @property
    def int8(self) -> bool:
        return self.precision == "int8" and self.calibration is not None


IMAGE = "image"  # the input of an entry that takes the (preprocessed) image; others take ``features``


def example_for(example: Example, name: str) -> torch.Tensor:
    return example[name] if isinstance(example, dict) else example


def entry_io(job: ExportJob, name: str) -> tuple[str, list[str]]:
    """Entry ``name``'s input name and output names (default ``image`` → ``logits``)."""
    return (job.io or {}).get(name, (IMAGE, ["logits"]))


class NamedIO(nn.Module):
    """``model`` with a named input and named outputs (a dict); ``channels_last``: the input is NHWC, permuted to
    NCHW inside the graph, where the converter cancels it against its own NCHW → NHWC transpose."""

    def __init__(self, model: nn.Module, outputs: list[str], channels_last: bool):
        super().__init__()
        self.model, self.outputs, self.channels_last = model, outputs, channels_last

    def forward(self, **inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        (x,) = inputs.values()
        result = self.model(x.permute(0, 3, 1, 2) if self.channels_last else x)
        return dict(zip(self.outputs, result if isinstance(result, tuple) else (result,)))


def quantize_pt2e(model: nn.Module, example: torch.Tensor, quantizer, calibration: torch.Tensor,
                  fold: bool = True) -> nn.Module:
    """Post-training int8 quantization (PT2E): annotate with ``quantizer``, observe ``calibration`` images one at a
    time (the graph is exported for batch 1), convert."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    graph = prepare_pt2e(torch.export.export(model, (example,)).module(), quantizer)
    for image in calibration:
        graph(image[None])
    return convert_pt2e(graph, fold_quantize=fold)


def export_executorch(models: dict[str, nn.Module], example: Example, path: Path, job: ExportJob) -> Path:
    """A .pte with one XNNPACK-delegated method per width (+ an ``edgeslim_metadata`` constant method: JSON).

    int8: XNNPACK quantizer, per-channel symmetric weights, static activations."""
    with quiet():
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower

        if job.int8:
            from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
                XNNPACKQuantizer,
                get_symmetric_quantization_config,
            )

            per_channel = (job.recipe or {}).get("per_channel", True)
            models = {name: quantize_pt2e(m, example, XNNPACKQuantizer().set_global(
                get_symmetric_quantization_config(is_per_channel=per_channel)), job.calibration)
                for name, m in models.items()}
        programs = {name: torch.export.export(m, (example_for(example, name),)) for name, m in models.items()}
        edge = to_edge_transform_and_lower(programs, partitioner=[XnnpackPartitioner()],
                                           constant_methods={"edgeslim_metadata": json.dumps(job.metadata)})
        program = edge.to_executorch()
    path.write_bytes(program.buffer)
    return path


def export_tflite(models: dict[str, nn.Module], example: Example, path: Path, job: ExportJob) -> Path:
    """A .tflite with one signature per width and the bundle description as TFLite metadata. Signature inputs
    and outputs are named as ``job.io`` says (``image`` → ``logits``); with ``job.layout`` NHWC the image input
    is ``[1, H, W, C]``.

    int8: litert-torch's PT2E quantizer (int8 inputs and outputs; the runtime quantizes and dequantizes with
    the tensors' own parameters)."""
    with quiet():
        import litert_torch

        quant_config = None
        if job.int8:
            from litert_torch.quantize.pt2e_quantizer import PT2EQuantizer, get_symmetric_quantization_config
            from litert_torch.quantize.quant_config import QuantConfig

            quantizer = PT2EQuantizer().set_global(get_symmetric_quantization_config(
                is_per_channel=(job.recipe or {}).get("per_channel", True), is_dynamic=False))
            models = {name: quantize_pt2e(m, example, quantizer, job.calibration, fold=False)
                      for name, m in models.items()}
            quant_config = QuantConfig(pt2e_quantizer=quantizer)
        converter = None
        for name, m in models.items():
            input_name, outputs = entry_io(job, name)
            x = example_for(example, name)
            channels_last = job.layout == "NHWC" and input_name == IMAGE
            x = x.permute(0, 2, 3, 1).contiguous() if channels_last else x
            converter = (litert_torch if converter is None else converter).signature(
                name, NamedIO(m, outputs, channels_last), sample_kwargs={input_name: x})
        edge_model = converter.convert(quant_config=quant_config)
        edge_model.export(str(path))
    _add_tflite_metadata(path, "edgeslim", json.dumps(job.metadata).encode())
    return path


def _add_tflite_metadata(path: Path, name: str, data: bytes) -> None:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    buffer = schema.BufferT()
    buffer.data = list(data)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata = (model.metadata or []) + [entry]
    builder = flatbuffers.Builder(os.path.getsize(path) + len(data) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    path.write_bytes(bytes(builder.Output()))
