"""Options of `edgeslim train` / :func:`edgeslim.train`: typed, defaults here only, checked on construction.

Torch-free apart from the model-name check, so the CLI parser can read the defaults on a device without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.host.search.options import TEACHERS, SearchOptions
from edgeslim.host.train.methods import METHODS

TRAINING_METHODS = (*METHODS, "pss")  # pss = usnet + search + joint training
HOLDOUT_METHODS = {"dsnet": 0.15}  # methods that hold out part of the training split by default (pss: its search's)


def _numbers(name: str, values) -> tuple[float, ...]:
    try:
        result = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise EdgeslimError(f"{name}: expected a list of numbers, e.g. (0.25, 0.5, 1.0), got {values!r}") from None
    if isinstance(values, str) or not result:
        raise EdgeslimError(f"{name}: expected a list of numbers, e.g. (0.25, 0.5, 1.0), got {values!r}")
    return result


@dataclass(frozen=True)
class TrainOptions:
    """How to train. ``model``: a built-in or registered name, ``path/to/file.py:function`` (a function returning
    an ``nn.Module``), or a ``torch.nn.Module``; ``out``: the run
    directory (default ``runs/<data>-<method>``); ``search``: the search and joint training of ``method="pss"``.
    ``val_fraction`` / ``teacher`` left at None take the method's default (see :attr:`holdout`, :attr:`distill`).
    ``init``: pretrained weights of the full network to start from (safetensors or a PyTorch state dict); with
    ``init_reorder``, its channels are first reordered most-important-first by the noise ranking, so that narrow
    widths start from its most important channels. ``lr_until``: the share of the cosine decay the learning rate
    has gone through at the last epoch (below 1: a first phase that a later one continues, see
    ``SearchOptions.schedule``). ``warmup_epochs``: the learning rate rises linearly over these first epochs
    (fractions allowed; 0: none): at the full rate from fresh weights, MobileNetV2's loss diverges in its first
    steps (bench/reports/pss_cifar10_mobilenetv2.md).
    """

    model: Any = "resnet20"
    data: str = "digits"
    method: str = "usnet"
    epochs: int = 30
    out: str | Path | None = None
    seed: int = 0
    batch_size: int = 64
    lr: float = 0.1
    warmup_epochs: float = 1.0
    weight_decay: float = 5e-4
    num_random: int = 2
    min_width: float = 0.25
    widths: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    width: float = 1.0
    configs: str | None = None
    val_fraction: float | None = None
    granularity: int = 8
    calib_samples: int = 2000
    teacher: str | None = None
    ema_decay: float = 0.99
    gate_before: str | None = None
    complexity_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 1.0, 2.0)
    gate_copies: int = 4
    augment: bool = True
    init: str | Path | None = None
    init_reorder: bool = True
    device: str = "auto"
    resume: bool = False
    force: bool = False
    show_progress: bool = True
    lr_until: float = 1.0
    search: SearchOptions | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.model, str):
            from edgeslim.host.models import MODELS, file_sha256, is_file_model

            if is_file_model(self.model):
                file_sha256(self.model)  # the file exists
            elif self.model not in MODELS:
                raise unknown_name("model", self.model, MODELS)
        elif not hasattr(self.model, "forward"):
            raise EdgeslimError(f"model: expected a model name or a torch.nn.Module, got {type(self.model).__name__}")
        if self.method not in TRAINING_METHODS:
            raise unknown_name("method", self.method, TRAINING_METHODS)
        for name in ("epochs", "batch_size", "granularity", "calib_samples", "gate_copies"):
            if getattr(self, name) < 1:
                raise EdgeslimError(f"--{name.replace('_', '-')} must be at least 1 (got {getattr(self, name)})")
        if self.num_random < 0:
            raise EdgeslimError(f"--num-random must be 0 or more (got {self.num_random})")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise EdgeslimError(f"--warmup-epochs must be in [0, --epochs {self.epochs}] (got {self.warmup_epochs})")
        if not 0 < self.lr_until <= 1:
            raise EdgeslimError(f"lr_until must be in (0, 1] (got {self.lr_until})")
        if self.teacher is not None and self.teacher not in TEACHERS:
            raise unknown_name("teacher", self.teacher, TEACHERS)
        if self.distill == "ema":
            if self.method == "single":
                raise EdgeslimError("--teacher ema: --method single trains one width from the labels; drop --teacher")
            if not 0 < self.ema_decay < 1:
                raise EdgeslimError(f"--ema-decay must be in (0, 1) (got {self.ema_decay})")
        widths = _numbers("--widths", self.widths)
        if any(not 0 < w <= 1 for w in widths):
            raise EdgeslimError(f"--widths: use fractions in (0, 1], e.g. 0.25,0.5,1.0 (got {self.widths})")
        weights = _numbers("--complexity-weights", self.complexity_weights)
        if any(w < 0 for w in weights) or len(set(weights)) < len(weights):
            raise EdgeslimError(f"--complexity-weights: use distinct weights ≥ 0 (got {self.complexity_weights})")
        if self.method == "dsnet" and self.configs:
            raise EdgeslimError("--configs: a dsnet gate routes among the uniform --widths only; drop --configs")
        if not 0 <= self.holdout < 0.5:
            raise EdgeslimError(f"--val-fraction must be in [0, 0.5) (got {self.val_fraction})")
        if not 0 < self.min_width <= 1 or not 0 < self.width <= 1:
            raise EdgeslimError("--min-width and --width must be fractions in (0, 1]")
        if self.init is not None and not Path(self.init).is_file():
            raise EdgeslimError(f"--init {self.init}: no such file; give a .safetensors file or a PyTorch checkpoint")
        if self.device not in ("auto", "cpu", "cuda"):
            raise unknown_name("device", self.device, ("auto", "cpu", "cuda"))
        if self.method == "pss" and self.supernet_epochs < 1:
            raise EdgeslimError(f"--epochs {self.epochs} leaves no supernet training before --final-epochs "
                                f"{self.search_options.joint_epochs(self.epochs)}; raise --epochs or lower "
                                "--final-epochs")

    @property
    def model_name(self) -> str:
        """The name run.json records: the model's name (a file's with its absolute path), or a user module's class
        name."""
        from edgeslim.host.models import is_file_model, resolved

        if is_file_model(self.model):
            return resolved(self.model)
        return self.model if isinstance(self.model, str) else type(self.model).__name__

    @property
    def run_dir(self) -> Path:
        return Path(self.out) if self.out is not None else Path("runs") / f"{Path(self.data).stem}-{self.method}"

    @property
    def distill(self) -> str:
        """The teacher distilled sub-nets learn from: ``teacher``, else ``ema`` for the methods that distil (usnet,
        dsnet, pss: its search's fine-tunes and joint training, also from a full network trained alone;
        bench/reports/pss_cifar10.md measures both)."""
        if self.teacher is not None:
            return self.teacher
        return "ema" if self.method in ("usnet", "dsnet", "pss") else "live"

    @property
    def holdout(self) -> float:
        """Share of the training split held out from training (the search measures on it; dsnet's gate learns
        on it): ``val_fraction``, else the method's default."""
        if self.val_fraction is not None:
            return self.val_fraction
        if self.method == "pss":
            return self.search_options.holdout_fraction
        return HOLDOUT_METHODS.get(self.method, 0.0)

    @property
    def search_options(self) -> SearchOptions:
        return self.search or SearchOptions(show_progress=self.show_progress)

    @property
    def supernet_epochs(self) -> int:
        """pss: the epochs of the network the search starts from (US-Nets supernet or full network), before the
        joint training of the kept sub-nets."""
        return self.epochs - self.search_options.joint_epochs(self.epochs) if self.method == "pss" else self.epochs

    def gate_weights(self) -> list[float]:
        """``complexity_weights`` as numbers (one gate width head each)."""
        return list(_numbers("--complexity-weights", self.complexity_weights))

    def width_list(self) -> str:
        """``widths`` as the comma-separated text the channel space parses."""
        return ",".join(f"{w:g}" for w in _numbers("--widths", self.widths))

    def same_job(self) -> dict:
        """The options a resumed run must share with the run it continues (as run.json stores them)."""
        keys = ("data", "method", "epochs", "seed", "batch_size", "lr", "weight_decay", "num_random",
                "min_width", "widths", "configs", "width", "granularity", "augment", "calib_samples",
                "gate_before", "complexity_weights", "gate_copies", "ema_decay", "lr_until", "warmup_epochs")
        values = {"model": self.model_name, **{k: getattr(self, k) for k in keys},
                  "val_fraction": self.holdout, "teacher": self.distill}
        return json.loads(json.dumps(values, default=str))

