"""Options of `edgeslim train` (torch-free, so the CLI parser loads on a device without torch)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.host.train.methods import METHODS

TEACHERS = ("live", "ema")  # what distilled sub-nets learn from: the step's largest, or an EMA of it


@dataclass
class TrainOptions:
    model: str = "resnet20"
    data: str = "digits"
    method: str = "usnet"
    epochs: int = 30
    out: str = "runs/digits-usnet"
    seed: int = 0
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    num_random: int = 2
    min_width: float = 0.25
    widths: str = "0.25,0.5,0.75,1.0"
    width: float = 1.0
    configs: str | None = None
    val_fraction: float = 0.0
    granularity: int = 8
    calib_samples: int = 2000
    teacher: str | None = None
    ema_decay: float = 0.99
    gate_before: str | None = None
    complexity_weights: str = "0,0.25,0.5,1,2"
    gate_copies: int = 4
    augment: bool = True
    device: str = "auto"
    resume: bool = False
    force: bool = False
    show_progress: bool = True

    def check(self) -> None:
        from edgeslim.host.models import MODELS

        if self.model not in MODELS:
            raise unknown_name("model", self.model, MODELS)
        if self.method not in METHODS:
            raise unknown_name("method", self.method, [*METHODS, "pss"])
        for name in ("epochs", "batch_size", "granularity", "calib_samples"):
            if getattr(self, name) < 1:
                raise EdgeslimError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        self.teacher = self.teacher or ("ema" if self.method == "dsnet" else "live")
        if self.teacher not in TEACHERS:
            raise unknown_name("teacher", self.teacher, TEACHERS)
        if self.teacher == "ema":
            if self.method == "single":
                raise EdgeslimError("--teacher ema: --method single trains one width from the labels; drop --teacher")
            if not 0 < self.ema_decay < 1:
                raise EdgeslimError(f"--ema-decay must be in (0, 1) (got {self.ema_decay})")
        if self.method == "dsnet":
            if self.configs:
                raise EdgeslimError("--configs: a dsnet gate routes among the uniform --widths only; drop --configs")
            self.val_fraction = self.val_fraction or 0.15  # stage II learns the gate on images stage I never saw
            self.gate_weights()
        if not 0 <= self.val_fraction < 0.5:
            raise EdgeslimError(f"--val-fraction must be in [0, 0.5) (got {self.val_fraction})")
        if not 0 < self.min_width <= 1 or not 0 < self.width <= 1:
            raise EdgeslimError("--min-width and --width must be fractions in (0, 1]")

    def gate_weights(self) -> list[float]:
        """``--complexity-weights`` as numbers (one gate width head each)."""
        try:
            weights = [float(w) for w in self.complexity_weights.split(",")]
        except ValueError:
            raise EdgeslimError(f"--complexity-weights: '{self.complexity_weights}' is not a list of numbers; "
                                "use e.g. 0,0.5,1,2") from None
        if any(w < 0 for w in weights) or len(set(weights)) < len(weights):
            raise EdgeslimError(f"--complexity-weights: use distinct weights ≥ 0 (got {self.complexity_weights})")
        return weights

    def same_job(self) -> dict:
        """The options a resumed run must share with the run it continues."""
        keys = ("model", "data", "method", "epochs", "seed", "batch_size", "lr", "weight_decay", "num_random",
                "min_width", "widths", "configs", "width", "granularity", "augment", "calib_samples",
                "val_fraction", "teacher", "ema_decay", "gate_before", "complexity_weights", "gate_copies")
        return {k: getattr(self, k) for k in keys}
