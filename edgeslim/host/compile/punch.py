"""Cut the weights out of an exported artifact (the inverse of :func:`edgeslim.device.bundle.skeleton.assemble`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from edgeslim.device.bundle.recipes import layouts_for, materialize

MIN_HOLE_BYTES = 256  # smaller constants stay in the skeleton: not worth a hole


def _occurrences(data: bytes, pattern: bytes) -> list[int]:
    found, start = [], data.find(pattern)
    while start >= 0:
        found.append(start)
        start = data.find(pattern, start + len(pattern))
    return found


def punch(data: bytes, recipes: Mapping[str, dict], blob: Mapping[str, np.ndarray]) -> tuple[bytes, list[list]]:
    """``(skeleton, holes)`` for artifact ``data``: every occurrence of every recipe's bytes, in the layout found.

    Largest tensors go first so that a narrow width's weights (often a byte prefix of a wider one's) are only
    matched at their own location, never inside a region already cut out.
    """
    claimed: list[tuple[int, int]] = []
    holes: list[list] = []
    for name, recipe in sorted(recipes.items(), key=lambda kv: -int(np.prod(kv[1]["shape"]))):
        if int(np.prod(recipe["shape"])) * 4 < MIN_HOLE_BYTES:
            continue
        for layout in layouts_for(len(recipe["shape"])):
            pattern = materialize(recipe, blob, layout).tobytes()
            free = [o for o in _occurrences(data, pattern)
                    if not any(o < end and start < o + len(pattern) for start, end in claimed)]
            if free:
                claimed += [(o, o + len(pattern)) for o in free]
                holes += [[o, len(pattern), name, layout] for o in free]
                break
    holes.sort()
    pieces, cursor = [], 0
    for offset, length, _, _ in holes:
        pieces.append(data[cursor:offset])
        cursor = offset + length
    pieces.append(data[cursor:])
    return b"".join(pieces), holes
