"""User-facing errors: one line that names the bad value and the fix, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgeslimError(Exception):
    """A mistake in the user's input (a path, a name, a value). The CLI prints it as one line."""


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> EdgeslimError:
    """An error for an unknown ``kind`` called ``name`` that suggests the closest valid names."""
    valid = sorted(valid)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return EdgeslimError(f"unknown {kind} '{name}': {hint}(valid: {', '.join(valid)})")
