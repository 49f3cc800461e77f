"""Artifacts stored without their weights: a *skeleton* plus the list of holes the weights fill (torch-free).

The build finds every width's constants inside the exported artifact (in whatever layout the exporter stored
them) and cuts them out; the device puts back bytes it computes from the shared blob. The exporter's own
format is untouched, so the reassembled artifact is byte-identical to the export (checked by sha256) and runs at
standalone speed, while the bundle stores every weight once.

A hole is ``[offset, length, tensor, layout]``: ``length`` bytes at ``offset`` of the full artifact are the
recipe ``tensor`` materialized in ``layout``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgeslim.device.bundle.recipes import materialize


def assemble(skeleton: bytes, holes: list[list], recipes: Mapping[str, dict], blob: Mapping[str, np.ndarray]
             ) -> bytes:
    """The full artifact: ``skeleton`` with every hole filled from ``blob``. Raises ValueError if they disagree."""
    out = bytearray()
    cursor = 0
    cache: dict[tuple[str, str], bytes] = {}
    for offset, length, tensor, layout in holes:
        gap = offset - len(out)
        if gap < 0 or cursor + gap > len(skeleton):
            raise ValueError(f"hole at offset {offset} does not fit the skeleton")
        out += skeleton[cursor:cursor + gap]
        cursor += gap
        key = (tensor, layout)
        if key not in cache:
            cache[key] = materialize(recipes[tensor], blob, layout).tobytes()
        if len(cache[key]) != length:
            raise ValueError(f"tensor {tensor} has {len(cache[key])} bytes, its hole {length}")
        out += cache[key]
    out += skeleton[cursor:]
    return bytes(out)
