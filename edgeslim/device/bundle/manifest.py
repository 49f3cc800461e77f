"""The bundle on disk: ``manifest.json``, the shared weight blob and one artifact per backend (torch-free).

Layout of a bundle directory::

    manifest.json           what is inside (schema below), the sha256 of every file
    weights.safetensors     the shared weight blob: full-width weights + every width's BN statistics, once
    model.pte.skel          ExecuTorch program, all widths, weights cut out (see skeleton.py), zlib
    model.tflite.skel       TFLite model, one signature per width, weights cut out, zlib
    model.mlpackage/        Core ML multifunction model, one function per width (stored whole)
    samples.npz             a few raw test images + labels, to run and check the bundle on the device
    profiles/               written on the device by `edgeslim profile` (latency per width, latency table)

``open_bundle`` checks the schema, that every file exists, and every sha256; each problem is one
:class:`BundleError` line naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeslim.device.bundle.skeleton import assemble
from edgeslim.errors import EdgeslimError
from edgeslim.files import publish_dir
from edgeslim.formats import BUNDLE
from edgeslim.jsonfile import read_json

MANIFEST = "manifest.json"
BLOB = "weights.safetensors"
SAMPLES = "samples.npz"


class BundleError(EdgeslimError):
    """A bundle that is missing, corrupt, truncated or not an edgeslim bundle."""


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative path + content, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Bundle:
    """An opened, verified bundle: its manifest and (lazily) its weight blob."""

    path: Path
    manifest: dict
    _blob: dict[str, np.ndarray] | None = None

    @property
    def widths(self) -> list[dict]:
        return self.manifest["widths"]

    @property
    def width_names(self) -> list[str]:
        return [w["name"] for w in self.widths]

    @property
    def backends(self) -> list[str]:
        return list(self.manifest["artifacts"])

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """The few raw test images (N, C, H, W floats in [0, 1]) and labels the build stored in the bundle."""
        entry = self.manifest.get("samples")
        if not entry:
            raise BundleError(f"{self.path}: has no samples; rebuild the bundle")
        with np.load(self.path / entry["file"], allow_pickle=False) as data:
            return data["x"], data["y"]

    def blob(self) -> dict[str, np.ndarray]:
        if self._blob is None:
            from safetensors.numpy import load_file

            try:
                self._blob = load_file(str(self.path / BLOB))
            except Exception as exc:  # safetensors raises several types for a damaged file
                raise BundleError(f"{self.path / BLOB}: unreadable weight blob ({exc}); rebuild the bundle") from None
        return self._blob

    def artifact_bytes(self, backend: str) -> bytes:
        """The complete artifact of ``backend`` (skeleton + weights from the blob), sha256-checked."""
        entry = self._artifact(backend)
        stored = self.path / entry["stored_as"]
        data = stored.read_bytes()
        if entry.get("compression") == "zlib":
            try:
                data = zlib.decompress(data)
            except zlib.error as exc:
                raise BundleError(f"{stored}: damaged ({exc}); copy the bundle again or rebuild it") from None
        if entry.get("holes"):
            try:
                data = assemble(data, entry["holes"], self.manifest["tensors"], self.blob())
            except (ValueError, KeyError) as exc:
                raise BundleError(f"{stored}: cannot rebuild the artifact from the blob ({exc}); "
                                  f"rebuild the bundle") from None
        if sha256_bytes(data) != entry["sha256"]:
            raise BundleError(f"{stored}: rebuilt artifact does not match its sha256 in {MANIFEST}; "
                              f"the bundle is corrupt, rebuild it")
        return data

    def artifact_path(self, backend: str) -> Path:
        return self.path / self._artifact(backend)["stored_as"]

    def _artifact(self, backend: str) -> dict:
        if backend not in self.manifest["artifacts"]:
            raise BundleError(f"{self.path}: has no {backend} artifact (it has {', '.join(self.backends)}); "
                              f"build it with --backends {backend}")
        return self.manifest["artifacts"][backend]


def _read_manifest(path: Path) -> dict:
    file = path / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: no such bundle; build one with `edgeslim build RUN --target ...`")
    if not file.is_file():
        raise BundleError(f"{path}: not an edgeslim bundle (no {MANIFEST})")
    manifest = read_json(file, dict, f"an {BUNDLE} manifest", error=BundleError)
    if manifest.get("schema") != BUNDLE:
        raise BundleError(f"{file}: not an {BUNDLE} manifest (schema: {manifest.get('schema')!r}); rebuild the "
                          f"bundle with this edgeslim version")
    for key in ("widths", "artifacts", "input", "blob", "tensors"):
        if key not in manifest:
            raise BundleError(f"{file}: missing '{key}'; the bundle is corrupt, rebuild it")
    return manifest


def unpack_archive(archive: Path) -> Path:
    """Extract ``<bundle>.tar`` once into a cache directory keyed by its sha256; returns that directory."""
    cache = Path(os.environ.get("EDGESLIM_CACHE", Path.home() / ".cache" / "edgeslim")) / "bundles"
    if not tarfile.is_tarfile(archive):
        raise BundleError(f"{archive}: neither a bundle directory nor a bundle .tar archive")
    target = cache / sha256_of(archive)[:16]
    if (target / MANIFEST).is_file():
        return target
    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():  # plain files inside the bundle only (older Pythons lack filter=)
                parts = Path(member.name).parts
                if not (member.isfile() or member.isdir()) or Path(member.name).is_absolute() or ".." in parts:
                    raise tarfile.TarError(f"unexpected member {member.name!r}")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:
                tar.extractall(tmp)
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{archive}: not a readable bundle archive ({reason}); copy it again or rebuild "
                          f"it") from None
    publish_dir(tmp, target)
    return target


def open_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Open the bundle at ``path`` (a directory, or its ``.tar`` archive); with ``verify``, check every stored
    file against its sha256."""
    path = Path(path)
    if path.is_file():
        path = unpack_archive(path)
    manifest = _read_manifest(path)
    files = [(BLOB, manifest["blob"]["sha256"])]
    files += [(a["stored_as"], a["stored_sha256"]) for a in manifest["artifacts"].values()]
    if "samples" in manifest:
        files.append((manifest["samples"]["file"], manifest["samples"]["sha256"]))
    for name, digest in files:
        file = path / name
        if not file.exists():
            raise BundleError(f"{file}: missing from the bundle; copy the whole bundle directory")
        if verify and sha256_of(file) != digest:
            raise BundleError(f"{file}: sha256 does not match {MANIFEST} (truncated or modified); "
                              f"copy the bundle again or rebuild it")
    return Bundle(path, manifest)
