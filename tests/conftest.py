"""Shared fixtures: the repository root, a CLI runner in a subprocess, tiny models."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 600, env: dict | None = None,
            python: str = sys.executable) -> subprocess.CompletedProcess:
    """``python -m edgeslim ARGS`` in a fresh process, as a user would run it."""
    return subprocess.run([python, "-m", "edgeslim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def train_killed_after(args: list[str], out: Path, epoch: int) -> None:
    """Start ``edgeslim train ARGS --out OUT`` and SIGKILL it once its checkpoint holds ``epoch`` epochs."""
    partial = out.with_name(out.name + ".partial")
    proc = subprocess.Popen([sys.executable, "-m", "edgeslim", "train", *args, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        sidecar = partial / "run.json"
        if sidecar.is_file() and json.loads(sidecar.read_text())["epoch"] >= epoch:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.fixture
def cli():
    return run_cli


def device_python() -> str:
    """The torch-free device environment's python (``make test`` creates it); skip locally, fail in CI."""
    explicit = os.environ.get("EDGESLIM_DEVICE_PYTHON")
    path = Path(explicit) if explicit else ROOT / ".venv-device" / "bin" / "python"
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"device environment missing at {path}: run 'make test'")
        pytest.skip(f"no device environment at {path} (make test creates it)")
    return str(path)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A ResNet-20 US-Nets run on digits, 10 epochs (int8 agreement is only meaningful on a model that has
    learned): 4 shipped widths."""
    out = tmp_path_factory.mktemp("tiny") / "run"
    result = run_cli("train", "--data", "digits", "--method", "usnet", "--epochs", "10", "--calib-samples", "256",
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    """A copy of ``tiny_bundle`` (without profiles) that a test may change."""
    path = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, path, ignore=shutil.ignore_patterns("profiles"))
    return path


@pytest.fixture(scope="session")
def tiny_bundle(tiny_run) -> Path:
    """``tiny_run`` built for the x86 emulator target with all three backends."""
    out = tiny_run.with_name("bundle")
    result = run_cli("build", str(tiny_run), "--target", "x86-emu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def dsnet_run(tmp_path_factory) -> Path:
    """A gated (DS-Net++) ResNet-20 run on digits, 3 epochs, two gate heads."""
    out = tmp_path_factory.mktemp("dsnet") / "run"
    result = run_cli("train", "--method", "dsnet", "--epochs", "3", "--calib-samples", "128",
                     "--complexity-weights", "0,0.5", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="session")
def dsnet_bundle(dsnet_run) -> Path:
    """``dsnet_run`` built for the x86 emulator target with all three backends."""
    out = dsnet_run.with_name("bundle")
    result = run_cli("build", str(dsnet_run), "--target", "x86-emu", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out
