"""Where the project's data folders (targets/, calibration/) live, in a checkout or an installed package."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from edgeslim.errors import EdgeslimError


def data_dir(name: str) -> Path:
    """The folder ``name`` ('targets' or 'calibration'): $EDGESLIM_HOME, the checkout, or <prefix>/share/edgeslim
    of the installation (the environment's prefix, or the one the package was installed under with --prefix)."""
    here = Path(__file__).resolve()
    candidates = []
    if os.environ.get("EDGESLIM_HOME"):
        candidates.append(Path(os.environ["EDGESLIM_HOME"]) / name)
    candidates.append(here.parents[1] / name)
    candidates.append(Path(sys.prefix) / "share" / "edgeslim" / name)
    if len(here.parents) > 4:  # <prefix>/lib/pythonX.Y/site-packages/edgeslim/resources.py
        candidates.append(here.parents[4] / "share" / "edgeslim" / name)
    for path in candidates:
        if path.is_dir():
            return path
    raise EdgeslimError(
        f"cannot find the edgeslim '{name}' folder (looked in {', '.join(map(str, candidates))}); "
        "reinstall edgeslim or set EDGESLIM_HOME to a checkout"
    )
