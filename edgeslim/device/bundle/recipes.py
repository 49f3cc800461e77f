"""Weight recipes: how every constant of an exported width is computed from the shared weight blob.

Torch-free: the device runs the same code as the build, so a materialized constant is byte-identical to the one
the exporter saw. A recipe is JSON::

    {"source": "blocks.0.conv1.weight", "shape": [8, 8, 3, 3], "bn": {...} | null}      # a weight
    {"source": "fc.bias" | null, "shape": [10], "bn": {...} | null, "bias": true}       # a bias

``shape`` is the prefix of the source that the width uses (its first k channels). ``bn`` folds a batch norm
recorded for that width: ``{"weight", "bias", "mean", "var": blob names, "eps": float}``. The layout an
exporter stored the tensor in (``OIHW`` as in torch, ``OHWI`` for XNNPACK/TFLite convs, ...) is applied last.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

LAYOUTS: dict[str, tuple[int, ...] | None] = {
    "native": None,
    "OHWI": (0, 2, 3, 1),
    "IHWO": (1, 2, 3, 0),
    "transposed": (1, 0),
}


def _prefix(array: np.ndarray, shape: list[int]) -> np.ndarray:
    return array[tuple(slice(0, n) for n in shape)]


def _bn_scale(bn: dict, blob: Mapping[str, np.ndarray], channels: int) -> np.ndarray:
    gamma = blob[bn["weight"]][:channels]
    return gamma / np.sqrt(blob[bn["var"]][:channels] + np.float32(bn["eps"]))


def materialize(recipe: dict, blob: Mapping[str, np.ndarray], layout: str = "native") -> np.ndarray:
    """The float32 constant ``recipe`` describes, in ``layout``, as a C-contiguous array."""
    shape, bn = recipe["shape"], recipe.get("bn")
    source = recipe.get("source")
    if recipe.get("bias"):
        out = shape[0]
        value = _prefix(blob[source], shape) if source else np.zeros(out, np.float32)
        if bn:
            scale = _bn_scale(bn, blob, out)
            value = blob[bn["bias"]][:out] + (value - blob[bn["mean"]][:out]) * scale
    else:
        value = _prefix(blob[source], shape)
        if bn:
            scale = _bn_scale(bn, blob, shape[0])
            value = value * scale.reshape((-1,) + (1,) * (value.ndim - 1))
    perm = LAYOUTS[layout]
    if perm is not None:
        value = value.transpose(perm)
    return np.ascontiguousarray(value, dtype=np.float32)


def layouts_for(ndim: int) -> list[str]:
    """The layouts an exporter may store a tensor of ``ndim`` dimensions in, most likely first."""
    if ndim == 4:
        return ["native", "OHWI", "IHWO"]
    if ndim == 2:
        return ["native", "transposed"]
    return ["native"]
