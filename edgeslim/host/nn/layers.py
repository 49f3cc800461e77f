"""Leaf layers: library layers slimify treats by what they compute instead of tracing into them.

A rule turns one layer into a short sequence of layers slimify knows (conv, linear, batch norm, activations...)
that computes the same thing. Exactly one of them may hold the layer's parameters and buffers; it takes the
layer's name, so state-dict keys do not change. Built in: timm's ``BatchNormAct2d``, ``Conv2dSame``, ``Linear``
and ``DropPath``, torchvision's ``StochasticDepth``, and any subclass of Conv2d / Linear / BatchNorm2d that keeps
its base class's ``forward``. Add your own with :func:`register_layer` (like Torch-Pruning's custom pruners)::

    register_layer(MyNormAct, lambda m: [as_base(m, nn.BatchNorm2d), m.act])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Rule = Callable[[nn.Module], Sequence[nn.Module]]
_BASES = (nn.Conv2d, nn.Linear, nn.BatchNorm2d)
_RULES: dict[type | str, Rule] = {}


class SamePad2d(nn.Module):
    """TensorFlow "same" padding for a conv of this kernel, stride and dilation (what timm's Conv2dSame does)."""

    def __init__(self, kernel_size, stride, dilation):
        super().__init__()
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s, d in zip(x.shape[-2:], self.kernel_size, self.stride, self.dilation):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        return F.pad(x, (left, right, top, bottom))


class DropPath(nn.Module):
    """Stochastic depth: drops a residual branch per sample (or for the whole batch) while training, rescaling
    what it keeps; identity at inference."""

    def __init__(self, p: float = 0.0, per_sample: bool = True):
        super().__init__()
        self.p, self.per_sample = p, per_sample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = x.new_empty((x.shape[0] if self.per_sample else 1,) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


def as_base(module: nn.Module, base: type[nn.Module]) -> nn.Module:
    """``module`` as a plain ``base`` layer sharing its parameters and buffers (its child layers dropped)."""
    plain = base.__new__(base)
    plain.__dict__ = {**module.__dict__, "_modules": {}}
    return plain


def register_layer(cls: type[nn.Module], rule: Rule) -> None:
    """Make slimify replace every ``cls`` layer (subclasses included) by the layers ``rule(layer)`` returns."""
    _RULES[cls] = rule


def rule_for(module: nn.Module) -> Rule | None:
    """The rule for ``module``: a registered class, a built-in library layer, or a base layer's plain subclass."""
    for cls in type(module).__mro__:
        if cls in _RULES:
            return _RULES[cls]
        if cls.__module__.split(".")[0] in ("timm", "torchvision") and cls.__name__ in _RULES:
            return _RULES[cls.__name__]
    if type(module) not in _BASES:
        for base in _BASES:
            if isinstance(module, base) and type(module).forward is base.forward:
                return lambda m, base=base: [as_base(m, base)]
    return None


_RULES.update({
    "BatchNormAct2d": lambda m: [as_base(m, nn.BatchNorm2d), m.drop, m.act],
    "Conv2dSame": lambda m: [SamePad2d(m.kernel_size, m.stride, m.dilation), as_base(m, nn.Conv2d)],
    "Linear": lambda m: [as_base(m, nn.Linear)],
    "DropPath": lambda m: [DropPath(m.drop_prob)],
    "StochasticDepth": lambda m: [DropPath(m.p, m.mode == "row")],
})
