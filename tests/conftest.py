"""Shared fixtures: the repository root, a CLI runner in a subprocess, tiny models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600, env: dict | None = None,
            python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python -m edgeslim ARGS`` in a fresh process, as a user would run it."""
    return subprocess.run([python, "-m", "edgeslim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return run_cli
