"""Options of `edgeslim build` / :func:`edgeslim.build` (torch-free), checked on construction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeslim.backends import BACKENDS, INPUT_LAYOUTS, PRECISIONS
from edgeslim.errors import EdgeslimError, unknown_name


@dataclass(frozen=True)
class BuildOptions:
    """Options of :func:`build`; ``backends``, ``precision`` and ``input_layout`` (of the image input, for the
    backends that take either; see :data:`edgeslim.backends.BACKENDS`) default to the target profile's."""

    target: str = "android-arm64"
    backends: tuple[str, ...] | None = None
    precision: str | None = None
    input_layout: str | None = None
    out: str | Path | None = None
    validate: bool = True
    validation_samples: int = 64
    calib: str | None = None
    archive: bool = False
    force: bool = False
    quiet: bool = False

    def __post_init__(self):
        for backend in self.backends or ():
            if backend not in BACKENDS:
                raise unknown_name("backend", backend, BACKENDS)
        if self.precision is not None and self.precision not in PRECISIONS:
            raise unknown_name("precision", self.precision, PRECISIONS)
        if self.input_layout is not None and self.input_layout not in INPUT_LAYOUTS:
            raise unknown_name("input layout", self.input_layout, INPUT_LAYOUTS)
        if self.validation_samples < 1:
            raise EdgeslimError(f"validation_samples must be at least 1 (got {self.validation_samples})")
