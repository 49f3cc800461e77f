"""Bundles on disk, torch-free: manifest and verification, weight recipes, skeleton artifacts, interpreters."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgeslim.device.bundle.manifest import Bundle, BundleError, open_bundle
from edgeslim.files import write_atomic

__all__ = ["Bundle", "BundleError", "open_bundle", "unpack"]


def unpack(bundle_path: str | Path, out: str | Path) -> list[Path]:
    """Write every backend's complete artifact (skeleton + blob) into ``out``; returns their paths."""
    bundle = open_bundle(bundle_path)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for backend, entry in bundle.manifest["artifacts"].items():
        target = out / entry["file"]
        source = bundle.path / entry["stored_as"]
        if source.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(source, target)
        else:
            write_atomic(target, bundle.artifact_bytes(backend))
        written.append(target)
    return written
