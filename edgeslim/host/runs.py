"""Run directories: weights in safetensors, everything else in a JSON sidecar; atomic writes, no pickle.

A run directory holds ``run.json`` (model, data, method, channel space, shipped configurations and their
metrics) and ``model.safetensors`` (supernet weights plus the recalibrated BN statistics of every shipped
configuration, as ``bn.<config>.<layer>.running_mean|running_var``). While training, the directory is
``<RUN>.partial`` and also holds ``checkpoint.safetensors`` (weights + optimizer state) for ``--resume``;
it is renamed to ``<RUN>`` only when the run is complete.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import msgspec
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from edgeslim.errors import EdgeslimError
from edgeslim.files import atomic_path, publish_dir, write_atomic
from edgeslim.formats import RUN
from edgeslim.host.models import MODELS, build_supernet, is_file_model
from edgeslim.host.nn import Supernet
from edgeslim.jsonfile import read_json
from edgeslim.subnets import ChannelSpace, SubnetConfig


def save_tensors_atomic(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None):
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata=metadata)


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise EdgeslimError(f"{path}: missing; the run directory is incomplete (train it again or --resume)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise EdgeslimError(f"{path}: not a readable safetensors file ({exc}); the run is corrupt") from None


def read_sidecar(path: Path) -> dict:
    """A run's JSON sidecar (run.json)."""
    return read_json(path, dict, "a JSON object", f"; is {path.parent} an edgeslim run directory?")


def weight_tensors(supernet: Supernet) -> dict[str, torch.Tensor]:
    """The network's state dict, plus a gate's as ``gate.*``."""
    tensors = dict(supernet.net.state_dict())
    if supernet.gate is not None:
        tensors.update({f"gate.{k}": v for k, v in supernet.gate.state_dict().items()})
    return tensors


def load_weights(supernet: Supernet, tensors: dict[str, torch.Tensor], source: Path) -> None:
    """Inverse of :func:`weight_tensors` (other keys, e.g. ``bn.*`` or ``optim.*``, are ignored). Every tensor
    must have the model's dtype and shape: a relabelled or reshaped tensor is refused, never cast."""
    expected = weight_tensors(supernet)
    for name, tensor in tensors.items():
        if name in expected and (tensor.dtype != expected[name].dtype or tensor.shape != expected[name].shape):
            found, wanted = (f"{str(t.dtype).removeprefix('torch.')} {list(t.shape)}" for t in (tensor, expected[name]))
            raise EdgeslimError(f"{source}: tensor '{name}' is {found}, the model's is {wanted}; the run is corrupt, "
                                "train it again")
    try:
        supernet.net.load_state_dict({k: v for k, v in tensors.items() if "." in k and k.split(".")[0] not in
                                      ("bn", "gate", "optim", "ema")})
        if supernet.gate is not None:
            supernet.gate.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("gate.")})
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise EdgeslimError(f"{source}: weights do not fit the model in run.json ({first})") from None


def supernet_tensors(supernet: Supernet, configs: list[SubnetConfig]) -> dict[str, torch.Tensor]:
    """Weights plus the stored BN statistics of each of ``configs``."""
    tensors = weight_tensors(supernet)
    for config in configs:
        for layer, (mean, var) in supernet.bn_stats.get(config.key(), {}).items():
            tensors[f"bn.{config.name}.{layer}.running_mean"] = mean
            tensors[f"bn.{config.name}.{layer}.running_var"] = var
    return tensors


def load_supernet_tensors(supernet: Supernet, tensors: dict[str, torch.Tensor], configs: list[SubnetConfig],
                          source: Path) -> None:
    """Inverse of :func:`supernet_tensors`."""
    load_weights(supernet, tensors, source)
    channels = {name: m.num_features for name, m in supernet.slim_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    for config in configs:
        prefix = f"bn.{config.name}."
        if channels and f"{prefix}{next(iter(channels))}.running_mean" not in tensors:
            continue  # no stored statistics for this configuration
        stats = {}
        for layer, count in channels.items():
            pair = [tensors.get(f"{prefix}{layer}.{kind}") for kind in ("running_mean", "running_var")]
            if any(t is None or not t.is_floating_point() or t.ndim != 1 or not 0 < t.numel() <= count for t in pair):
                raise EdgeslimError(f"{source}: the BN statistics of '{config.name}' at {layer} are missing or do not "
                                    "fit the model; the run is corrupt, train it again")
            stats[layer] = tuple(pair)
        supernet.bn_stats[config.key()] = stats


Dim = Annotated[int, msgspec.Meta(ge=1, le=1 << 16)]


class ConfigEntry(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    channels: dict[str, Dim]
    meta: dict = {}


class GroupEntry(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    channels: Dim
    granularity: Dim
    members: list[str]


class RunOptions(msgspec.Struct):
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
    calib_samples: Annotated[int, msgspec.Meta(ge=1)]
    batch_size: Annotated[int, msgspec.Meta(ge=1)]
    lr: Annotated[float, msgspec.Meta(gt=0)]
    weight_decay: Annotated[float, msgspec.Meta(ge=0)]
    augment: bool


class RunInfo(msgspec.Struct):
    """What run.json must hold before a run is loaded (types and ranges; the rest is checked against the model)."""

    model: Annotated[str, msgspec.Meta(min_length=1)]
    data: str
    method: str
    input_shape: Annotated[list[Dim], msgspec.Meta(min_length=3, max_length=3)]
    num_classes: Dim
    granularity: Dim
    space: list[GroupEntry]
    configs: Annotated[list[ConfigEntry], msgspec.Meta(min_length=1)]
    options: RunOptions
    gate: dict | None = None


@dataclass
class Run:
    """A trained run (``edgeslim.train`` / ``load_run``): its directory, its run.json (``info``), the supernet
    with weights and per-configuration BN statistics, and its shipped configurations."""

    path: Path
    info: dict
    supernet: Supernet
    configs: list[SubnetConfig]

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, model={self.info['model']!r}, method={self.info['method']!r}, "
                f"configs={[c.name for c in self.configs]})")

    @property
    def shipped(self) -> list[dict]:
        """The shipped configurations as run.json records them: name, channels, MFLOPs, params, test top-1."""
        return [{"name": c["name"], "channels": c["channels"], **c.get("meta", {})} for c in self.info["configs"]]

    def evaluate(self, data: str | None = None, widths: str | None = None, configs: str | None = None
                 ) -> list[dict]:
        """Rows of the width table (name, channels, MFLOPs, params, top-1 on ``data``, default the run's test
        split); extra uniform ``widths`` ("0.3,0.6") or ``configs`` (JSON file) are recalibrated on the fly;
        a gated run adds one row per gate width head (``share``: the images per width)."""
        from edgeslim.host.evaluate import evaluate_run

        return evaluate_run(self, data, widths, configs)[1]

    def plot(self, path: str | Path, data: str | None = None, rows: list[dict] | None = None) -> Path:
        """Accuracy vs MFLOPs as a PNG: the shipped configurations (``rows`` from :meth:`evaluate`, else
        evaluated on ``data``), a gate's heads, and the uniform widths measured before a search."""
        from edgeslim.host.plot import plot_run

        return plot_run(self, Path(path), self.evaluate(data) if rows is None else rows, data)


def new_supernet(info: dict) -> Supernet:
    """The run's (untrained) supernet, with its gate and width heads if it has one."""
    if info["model"] not in MODELS and not is_file_model(info["model"]):
        raise EdgeslimError(f"model '{info['model']}' is neither built in nor registered in this process; a run "
                            "trained from your own module needs it registered first: "
                            f"edgeslim.register_model('{info['model']}', factory)")
    supernet = build_supernet(info["model"], tuple(info["input_shape"]), info["num_classes"], info["granularity"],
                              sha256=info.get("model_sha256"))
    if "gate" in info:
        gate = supernet.attach_gate(info["gate"]["before"], len(info["gate"]["widths"]), info["gate"]["hidden"])
        for head in info["gate"]["heads"]:
            gate.add_head(head["name"])
    return supernet


def load_run(path: str | Path) -> Run:
    """Open a complete run directory written by ``edgeslim train``."""
    path = Path(path)
    if not path.is_dir():
        partial = path.with_name(path.name + ".partial")
        hint = f" ({partial} exists: finish it with 'edgeslim train ... --resume')" if partial.is_dir() else ""
        raise EdgeslimError(f"{path}: no such run directory{hint}")
    info = read_sidecar(path / "run.json")
    if info.get("schema") != RUN:
        raise EdgeslimError(f"{path / 'run.json'}: run schema {info.get('schema')!r} is not supported "
                            f"(this edgeslim reads schema {RUN})")
    try:
        msgspec.convert(info, RunInfo)
    except msgspec.ValidationError as exc:
        raise EdgeslimError(f"{path / 'run.json'}: {exc}; the run is corrupt, train it again") from None
    supernet = new_supernet(info)
    stored_space = ChannelSpace.from_json(info["space"])
    if stored_space != supernet.space:
        raise EdgeslimError(f"{path / 'run.json'}: channel groups differ from the '{info['model']}' model of this "
                            "edgeslim version; retrain the run")
    configs = [supernet.space.validate(SubnetConfig.from_json(c)) for c in info["configs"]]
    load_supernet_tensors(supernet, load_tensors(path / "model.safetensors"), configs, path / "model.safetensors")
    supernet.eval()
    return Run(path, info, supernet, configs)


def save_run(path: Path, info: dict, supernet: Supernet, configs: list[SubnetConfig]) -> None:
    """Write the final weights and sidecar into ``path`` (the ``.partial`` directory)."""
    save_tensors_atomic(path / "model.safetensors", supernet_tensors(supernet, configs))
    write_atomic(path / "run.json", json.dumps(info, indent=2))


def finalize(partial: Path, final: Path) -> None:
    """Publish a finished run: drop the resume checkpoint and rename ``<RUN>.partial`` to ``<RUN>``."""
    (partial / "checkpoint.safetensors").unlink(missing_ok=True)
    publish_dir(partial, final)


def replace_run(path: Path, info: dict, supernet: Supernet, configs: list[SubnetConfig]) -> None:
    """Rewrite a complete run in place without ever leaving it half-written (new dir, then swap)."""
    fresh = path.with_name(path.name + ".new")
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.copytree(path, fresh)
    save_run(fresh, info, supernet, configs)
    publish_dir(fresh, path)
