"""User-facing errors: one line that names the bad value and the fix, never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class EdgeslimError(Exception):
    """A mistake in the user's input (a path, a name, a value). The CLI prints it as one line."""


def closest(name: str, valid: Iterable[str], n: int = 3) -> list[str]:
    """The valid names nearest ``name``, ignoring case and punctuation (``US-Nets`` finds ``usnet``)."""
    def key(text: str) -> str:
        return "".join(c for c in str(text).lower() if c.isalnum())

    by_key = {key(v): v for v in valid}
    return [by_key[k] for k in difflib.get_close_matches(key(name), list(by_key), n=n, cutoff=0.4)]


def unknown_name(kind: str, name: str, valid: Iterable[str]) -> EdgeslimError:
    """An error for an unknown ``kind`` called ``name`` that suggests the closest valid names."""
    valid = sorted(valid)
    close = closest(name, valid)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return EdgeslimError(f"unknown {kind} '{name}': {hint}(valid: {', '.join(valid)})")
