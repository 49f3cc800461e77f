"""Built-in models, and the registry user models join: ordinary definitions made slimmable by ``slimify``.

The registry itself is torch-free (built-ins are named as ``module:function`` and imported when built), so
listing the models or checking a name never loads torch. A model can also be a factory in the user's own file,
``path/to/file.py:function`` (see :func:`file_factory`).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeslim.errors import EdgeslimError, unknown_name

if TYPE_CHECKING:
    from torch import nn

    from edgeslim.host.nn import Supernet

Factory = Callable[[int, int, int], "nn.Module"]  # (input channels, classes, input size) -> model

MODELS: dict[str, Factory | str] = {
    "resnet20": "edgeslim.host.models.resnet:resnet20",
    "resnet18": "edgeslim.host.models.resnet:resnet18",
    "mobilenetv2": "edgeslim.host.models.mobilenetv2:mobilenetv2",
    "mobilenetv3_small": "edgeslim.host.models.mobilenetv3:mobilenetv3_small",
    "mobilenetv3_large": "edgeslim.host.models.mobilenetv3:mobilenetv3_large",
    "efficientnet_lite0": "edgeslim.host.models.efficientnet:efficientnet_lite0",
    "efficientnet_b0": "edgeslim.host.models.efficientnet:efficientnet_b0",
    "regnetx_200mf": "edgeslim.host.models.regnet:regnetx_200mf",
    "regnety_200mf": "edgeslim.host.models.regnet:regnety_200mf",
    "regnetx_400mf": "edgeslim.host.models.regnet:regnetx_400mf",
    "regnety_400mf": "edgeslim.host.models.regnet:regnety_400mf",
    "ghostnet": "edgeslim.host.models.ghostnet:ghostnet",
    "resnet50": "edgeslim.host.models.resnet:resnet50",
    "resnext50_32x4d": "edgeslim.host.models.resnet:resnext50_32x4d",
    "densenet121": "edgeslim.host.models.densenet:densenet121",
    "shufflenetv2": "edgeslim.host.models.shufflenet:shufflenetv2",
}

# Where a DS-Net++ gate sits by default: right before this module, i.e. after the stem and the first block.
# Everything before it runs at full width for every input, so an early point keeps the narrowest width cheap.
GATE_POINTS = {**{name: "blocks.1" for name in MODELS}, "densenet121": "features.4"}


def register_model(name: str, factory: Factory, gate_before: str | None = None) -> None:
    """Make ``factory(in_channels, num_classes, image_size) -> nn.Module`` trainable as ``model=name`` in this
    process (``gate_before``: its default DS-Net++ gate point)."""
    MODELS[name] = factory
    if gate_before:
        GATE_POINTS[name] = gate_before


FILE_MODEL = re.compile(r"^(?P<path>.+\.py):(?P<function>[A-Za-z_][A-Za-z0-9_]*)$")


def is_file_model(spec: Any) -> bool:
    """``spec`` names a factory in a Python file: ``path/to/file.py:function``."""
    return isinstance(spec, str) and FILE_MODEL.match(spec) is not None


def resolved(spec: str) -> str:
    """``spec`` with its file as an absolute path (what run.json records, so the run reloads from anywhere)."""
    match = FILE_MODEL.match(spec)
    return f"{Path(match['path']).resolve()}:{match['function']}"


def file_sha256(spec: str) -> str:
    """sha256 of the file a ``file.py:function`` spec names (recorded in run.json, checked when it is reloaded)."""
    path = Path(FILE_MODEL.match(spec)["path"])
    if not path.is_file():
        raise EdgeslimError(f"--model {spec}: no such file {path}; give path/to/file.py:function")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_factory(spec: str, sha256: str | None = None) -> Factory:
    """The function ``function`` of ``file.py`` (``spec``), imported from that file; with ``sha256``, only if the
    file still has that content. It is called as ``function(in_channels, num_classes, image_size)`` when it takes
    three arguments, else as ``function()``, and must return a ``torch.nn.Module``."""
    match = FILE_MODEL.match(spec)
    path, function = Path(match["path"]), match["function"]
    found = file_sha256(spec)
    if sha256 is not None and found != sha256:
        raise EdgeslimError(f"{path}: changed since the run was trained from it (sha256 {found[:12]}…, the run "
                            f"recorded {sha256[:12]}…); restore that file or train again")
    module_spec = importlib.util.spec_from_file_location(f"edgeslim_user_model_{found[:12]}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # the user's file: any error is theirs, reported in one line
        raise EdgeslimError(f"{path}: importing it failed ({type(exc).__name__}: {exc})") from None
    factory = getattr(module, function, None)
    if not callable(factory):
        defined = sorted(n for n, v in vars(module).items()
                         if inspect.isfunction(v) and v.__module__ == module.__name__)
        raise EdgeslimError(f"{path}: has no function '{function}' (it defines: {', '.join(defined) or 'none'})")
    try:
        takes_shape = bool(inspect.signature(factory).bind(1, 1, 1))
    except TypeError:
        takes_shape = False

    def build(in_channels: int, num_classes: int, image_size: int):
        from torch import nn

        try:
            net = factory(in_channels, num_classes, image_size) if takes_shape else factory()
        except Exception as exc:
            raise EdgeslimError(f"{spec}: calling it failed ({type(exc).__name__}: {exc})") from None
        if not isinstance(net, nn.Module):
            raise EdgeslimError(f"{spec}: returned a {type(net).__name__}, not a torch.nn.Module")
        return net

    return build


def model_name(model: str | Any) -> str:
    """The name a run records for ``model``; a module given directly joins the registry under its class name."""
    if isinstance(model, str):
        return model
    name = type(model).__name__
    template = copy.deepcopy(model)
    register_model(name, lambda c, n, s: copy.deepcopy(template))
    return name


def gate_point(name: str) -> str:
    if name not in GATE_POINTS:
        raise EdgeslimError(f"model '{name}' has no default gate point; pass --gate-before with the module the gate "
                            "sits before (e.g. blocks.1)")
    return GATE_POINTS[name]


def build_supernet(model: str | nn.Module, input_shape: tuple[int, int, int], num_classes: int,
                   granularity: int = 8, sha256: str | None = None) -> Supernet:
    """The slimmable ``model`` (a registered name, ``file.py:function``, or a module) for inputs of ``input_shape``
    (C, H, W) and ``num_classes`` classes; ``sha256``: the content a ``file.py`` must still have."""
    import torch

    from edgeslim.host.nn import slimify

    name = model_name(model)
    if is_file_model(name):
        factory = file_factory(name, sha256)
    elif name not in MODELS:
        raise unknown_name("model", name, MODELS)
    else:
        factory = MODELS[name]
    if isinstance(factory, str):
        module, _, attribute = factory.partition(":")
        factory = getattr(importlib.import_module(module), attribute)
    net = factory(input_shape[0], num_classes, max(input_shape[1:]))
    try:
        with torch.no_grad():
            outputs = net.eval()(torch.zeros(1, *input_shape)).shape
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise EdgeslimError(f"model {name} does not take {tuple(input_shape)} inputs ({first})") from None
    if tuple(outputs) != (1, num_classes):
        raise EdgeslimError(f"model {name} gives outputs of shape {tuple(outputs)}; the data has {num_classes} "
                            f"classes (expected (1, {num_classes}))")
    return slimify(net.train(), input_shape, granularity)
