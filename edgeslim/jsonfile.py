"""Reading the JSON files users hand us (configurations, latency tables, run sidecars), torch-free."""

from __future__ import annotations

import json
from pathlib import Path

from edgeslim.errors import EdgeslimError


def read_json(path: str | Path, expected: type, what: str, missing_hint: str = "",
              error: type[EdgeslimError] = EdgeslimError) -> dict | list:
    """The parsed file, or one ``error`` naming it: missing, not JSON, or not the ``expected`` type."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file{missing_hint}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"{path}: not valid JSON ({exc}); expected {what}") from None
    if not isinstance(data, expected):
        raise error(f"{path}: expected {what}, got a JSON {type(data).__name__}")
    return data
