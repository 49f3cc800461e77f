"""Bundles on disk, torch-free: manifest and verification, weight recipes, skeleton artifacts, interpreters."""

from __future__ import annotations

import shutil
from pathlib import Path

from edgeslim.device.bundle.manifest import Bundle, BundleError, open_bundle
from edgeslim.files import make_dir, publish_dir, write_atomic

__all__ = ["Bundle", "BundleError", "open_bundle", "unpack"]


def unpack(bundle_path: str | Path, out: str | Path) -> list[Path]:
    """Write every backend's complete artifact (skeleton + blob) into ``out``; returns their paths."""
    bundle = open_bundle(bundle_path)
    out = make_dir(Path(out), "--out")
    written = []
    for backend, entry in bundle.spec.artifacts.items():
        target = out / entry.file  # a plain file name (the manifest's schema): always inside ``out``
        source = bundle.artifact_path(backend)
        if source.is_dir():
            staged = out / (entry.file + ".partial")
            shutil.rmtree(staged, ignore_errors=True)
            shutil.copytree(source, staged)
            if target.is_symlink() or target.is_file():
                target.unlink()
            publish_dir(staged, target)
        else:
            if target.is_symlink():
                target.unlink()
            write_atomic(target, bundle.artifact_bytes(backend))
        written.append(target)
    return written
