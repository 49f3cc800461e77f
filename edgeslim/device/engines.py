"""Backend interpreters behind one interface: load an artifact, run one width on one input (torch-free import).

The ``engine`` column of :data:`edgeslim.backends.BACKENDS` names these classes.

Every engine prepares all widths when it is created, so switching width is a dictionary lookup, not a reload.
TFLite runs through ai-edge-litert or tflite-runtime (the device install); ExecuTorch through its Python
runtime (which brings torch, so it is imported only when used). Core ML runs on Apple devices only.
"""

from __future__ import annotations

import os

import numpy as np


def _tflite_interpreter():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from tflite_runtime.interpreter import Interpreter
    return Interpreter


class TFLiteEngine:
    """One interpreter, one signature runner per width. ``outputs``: each width's output names in order (else
    sorted); ``channels_last``: the widths whose input is NHWC — they are still fed NCHW, transposed here."""

    name = "tflite"

    @staticmethod
    def load_runtime() -> None:
        """Import the interpreter (one-time process cost, kept out of the bundle's init time)."""
        _tflite_interpreter()

    def __init__(self, data: bytes, entries: dict[str, str], threads: int,
                 outputs: dict[str, list[str]] | None = None, channels_last: set[str] = frozenset()):
        self.interpreter = _tflite_interpreter()(model_content=data, num_threads=threads)
        self.runners, self.io, self.channels_last = {}, {}, set(channels_last)
        for width, entry in entries.items():
            runner = self.interpreter.get_signature_runner(entry)
            self.runners[width] = runner
            (input_name, input_spec), = runner.get_input_details().items()
            details = runner.get_output_details()
            order = (outputs or {}).get(width) or sorted(details, key=lambda n: (len(n), n))  # output_0, 1…
            self.io[width] = (input_name, input_spec, [(name, details[name]) for name in order])

    def input_shape(self, width: str) -> tuple[int, ...]:
        """The input shape the width is fed: NCHW, also where the program itself takes NHWC."""
        shape = tuple(int(d) for d in self.io[width][1]["shape"])
        return (shape[0], shape[3], shape[1], shape[2]) if width in self.channels_last else shape

    def run(self, width: str, x: np.ndarray) -> np.ndarray:
        return self.run_all(width, x)[0]

    def run_all(self, width: str, x: np.ndarray) -> list[np.ndarray]:
        """Every output of entry ``width``, in the program's order."""
        input_name, input_spec, outputs = self.io[width]
        if width in self.channels_last:
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        if input_spec["dtype"] != np.float32:  # an int8 model: quantize with the input tensor's own parameters
            scale, zero = input_spec["quantization"]
            info = np.iinfo(input_spec["dtype"])
            x = np.clip(np.round(x / scale) + zero, info.min, info.max).astype(input_spec["dtype"])
        results = self.runners[width](**{input_name: x})
        values = []
        for name, spec in outputs:
            out = results[name]
            if spec["dtype"] != np.float32:
                scale, zero = spec["quantization"]
                out = (out.astype(np.float32) - zero) * scale
            values.append(out)
        return values


class ExecuTorchEngine:
    """One program, one loaded method per width (XNNPACK weights are packed once, at load)."""

    name = "executorch"

    @staticmethod
    def load_runtime() -> None:
        """Import the runtime (it brings torch: seconds, once per process, kept out of the bundle's init time)."""
        import torch  # noqa: F401
        from executorch.runtime import Runtime

        Runtime.get()

    def __init__(self, data: bytes, entries: dict[str, str], threads: int,
                 outputs: dict[str, list[str]] | None = None, channels_last: set[str] = frozenset()):
        if channels_last:
            raise ValueError("ExecuTorch programs take NCHW input")
        import torch
        from executorch.extension.pybindings.portable_lib import _unsafe_reset_threadpool
        from executorch.runtime import Runtime

        _unsafe_reset_threadpool(threads)
        self._torch = torch
        self.program = Runtime.get().load_program(data)
        self.methods = {width: self.program.load_method(entry) for width, entry in entries.items()}

    def input_shape(self, width: str) -> tuple[int, ...]:
        meta = self.methods[width].metadata
        return tuple(meta.input_tensor_meta(0).sizes()) if meta.num_inputs() == 1 else ()

    def run(self, width: str, x: np.ndarray) -> np.ndarray:
        return self.methods[width].execute([self._torch.from_numpy(x)])[0].numpy()

    def run_all(self, width: str, x: np.ndarray) -> list[np.ndarray]:
        return [out.numpy() for out in self.methods[width].execute([self._torch.from_numpy(x)])]


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))
