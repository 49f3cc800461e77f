"""Weight recipes: how every constant of an exported width is computed from the shared weight blob.

Torch-free: the device runs the same code as the build, so a materialized constant is byte-identical to the one
the exporter saw. A recipe is JSON::

    {"source": "blocks.0.conv1.weight", "shape": [8, 8, 3, 3], "bn": {...} | null}      # a weight
    {"source": "fc.bias" | null, "shape": [10], "bn": {...} | null, "bias": true}       # a bias

``shape`` is the prefix of the source that the width uses (its first k channels). Where a concat makes the
width's channels segments of the full ones, ``rows`` / ``cols`` list the ``[start, length]`` runs it takes along
axis 0 / 1 instead (``rows`` also applies to the batch norm's weight and bias). ``bn`` folds a batch norm
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


def _runs(runs: list[list[int]]) -> np.ndarray:
    return np.concatenate([np.arange(start, start + length) for start, length in runs])


def _select(array: np.ndarray, shape: list[int], rows: list | None = None, cols: list | None = None) -> np.ndarray:
    """The block of ``array`` a recipe uses: the first ``shape`` entries, or the runs along axes 0 / 1."""
    value = array[tuple(slice(None) if runs else slice(0, n) for n, runs in zip(shape, (rows, cols, None, None)))]
    if rows:
        value = np.take(value, _runs(rows), 0)
    if cols:
        value = np.take(value, _runs(cols), 1)
    return value


def _bn_scale(bn: dict, blob: Mapping[str, np.ndarray], channels: int, rows: list | None) -> np.ndarray:
    gamma = _select(blob[bn["weight"]], [channels], rows)
    return gamma / np.sqrt(blob[bn["var"]][:channels] + np.float32(bn["eps"]))


def materialize(recipe: dict, blob: Mapping[str, np.ndarray], layout: str = "native") -> np.ndarray:
    """The float32 constant ``recipe`` describes, in ``layout``, as a C-contiguous array."""
    shape, bn = recipe["shape"], recipe.get("bn")
    source, rows, cols = recipe.get("source"), recipe.get("rows"), recipe.get("cols")
    if recipe.get("bias"):
        out = shape[0]
        value = _select(blob[source], shape, rows) if source else np.zeros(out, np.float32)
        if bn:
            scale = _bn_scale(bn, blob, out, rows)
            value = _select(blob[bn["bias"]], [out], rows) + (value - blob[bn["mean"]][:out]) * scale
    else:
        value = _select(blob[source], shape, rows, cols)
        if bn:
            scale = _bn_scale(bn, blob, shape[0], rows)
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
