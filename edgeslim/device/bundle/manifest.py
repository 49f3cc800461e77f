"""The bundle on disk: ``manifest.json``, the shared weight blob and one artifact per backend (torch-free).

Layout of a bundle directory::

    manifest.json           what is inside (schema.py), the size and sha256 of every file
    weights.safetensors     the shared weight blob: full-width weights + every width's BN statistics, once
    model.pte.skel          ExecuTorch program, all widths, weights cut out (see skeleton.py), zlib
    model.tflite.skel       TFLite model, one signature per width, weights cut out, zlib
    model.mlpackage/        Core ML multifunction model, one function per width (stored whole)
    samples.npz             a few raw test images + labels, to run and check the bundle on the device
    profiles/               written on the device by `edgeslim profile` (latency per width, latency table)

A bundle comes from elsewhere: ``open_bundle`` checks the manifest against its schema before using any of it,
reads only regular files named in it and lying inside the bundle (no links), checks their sizes before reading
and their sha256s, and checks the blob's header against the recipes. Each problem is one :class:`BundleError`
line naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from edgeslim.device.bundle import schema
from edgeslim.device.bundle.skeleton import assemble
from edgeslim.errors import EdgeslimError

MANIFEST = "manifest.json"
BLOB = "weights.safetensors"
SAMPLES = "samples.npz"
MAX_MANIFEST_BYTES = 64 << 20
MAX_BLOB_HEADER_BYTES = 64 << 20
MAX_SAMPLES_BYTES = 256 << 20


class BundleError(EdgeslimError):
    """A bundle that is missing, corrupt, truncated or not an edgeslim bundle."""


def _regular(path: Path) -> os.stat_result | None:
    """``path``'s status if it is a regular file (not a link, FIFO or device), else None."""
    try:
        status = os.lstat(path)
    except OSError:
        return None
    return status if stat.S_ISREG(status.st_mode) else None


def _files_of(path: Path) -> list[Path]:
    """The regular files of a directory tree, refusing links and special files anywhere in it."""
    found = []
    for root, dirs, files in os.walk(path, followlinks=False):
        for name in dirs + files:
            child = Path(root) / name
            mode = os.lstat(child).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
                raise BundleError(f"{child}: not a regular file or folder; a bundle holds only those")
            if stat.S_ISREG(mode):
                found.append(child)
    return sorted(found)


def sha256_of(path: Path) -> str:
    """sha256 of a file, or of a directory's files (relative path + content, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if _regular(path) else _files_of(path)
    for file in files:
        if file != path:
            digest.update(file.relative_to(path).as_posix().encode())
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def bundle_file(bundle: Path, name: str, size: int | None = None, folder: bool = False) -> Path:
    """``bundle/name`` for a plain ``name`` (checked by the schema): a regular file (or, with ``folder``, a
    directory) inside the bundle, not a link; with ``size``, exactly that many bytes."""
    path = bundle / name
    if path.is_symlink() or path.resolve().parent != bundle.resolve():
        raise BundleError(f"{path}: a link or outside the bundle; a bundle holds only its own files")
    if folder:
        if not path.is_dir():
            raise BundleError(f"{path}: missing from the bundle; copy the whole bundle directory")
        return path
    status = _regular(path)
    if status is None:
        what = "missing from the bundle" if not path.exists() else "not a regular file"
        raise BundleError(f"{path}: {what}; copy the whole bundle directory")
    if size is not None and status.st_size != size:
        raise BundleError(f"{path}: {status.st_size} bytes, the manifest says {size} (truncated or modified); "
                          "copy the bundle again or rebuild it")
    return path


@dataclass
class Bundle:
    """An opened, checked bundle: its manifest (plain data, checked against the schema) and, lazily, its blob."""

    path: Path
    manifest: dict
    spec: schema.Manifest
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
        entry = self.spec.samples
        if entry is None:
            raise BundleError(f"{self.path}: has no samples; rebuild the bundle")
        path = bundle_file(self.path, entry.file)
        if path.stat().st_size > MAX_SAMPLES_BYTES or sha256_of(path) != entry.sha256:
            raise BundleError(f"{path}: does not match its sha256 in {MANIFEST}; copy the bundle again")
        shape = tuple(self.spec.input.shape[1:])
        try:
            with np.load(path, allow_pickle=False) as data:
                x, y = np.asarray(data["x"], np.float32), np.asarray(data["y"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise BundleError(f"{path}: unreadable samples ({exc}); rebuild the bundle") from None
        if x.shape[1:] != shape or y.shape != (len(x),) or not np.issubdtype(y.dtype, np.integer):
            raise BundleError(f"{path}: samples of shape {x.shape} / labels {y.shape}, expected (N, "
                              f"{', '.join(map(str, shape))}) / (N,); rebuild the bundle")
        return x, y

    def blob(self) -> dict[str, np.ndarray]:
        if self._blob is None:
            from safetensors.numpy import load_file

            try:
                self._blob = load_file(str(bundle_file(self.path, self.spec.blob.file)))
            except Exception as exc:  # safetensors raises several types for a damaged file
                raise BundleError(f"{self.path / BLOB}: unreadable weight blob ({exc}); rebuild the bundle") from None
        return self._blob

    def artifact_bytes(self, backend: str) -> bytes:
        """The complete artifact of ``backend`` (skeleton + weights from the blob), sha256-checked."""
        entry = self._artifact(backend)
        stored = bundle_file(self.path, entry.stored_as, entry.stored_bytes)
        data = stored.read_bytes()
        if entry.compression == "zlib":  # bounded: a skeleton is the artifact minus its holes, no more
            expected = entry.bytes - sum(length for _, length, _, _ in entry.holes)
            try:
                inflate = zlib.decompressobj()
                data = inflate.decompress(data, expected + 1)
            except zlib.error as exc:
                raise BundleError(f"{stored}: damaged ({exc}); copy the bundle again or rebuild it") from None
            if len(data) != expected or not inflate.eof:
                raise BundleError(f"{stored}: inflates to another size than the manifest's {expected} bytes; "
                                  "copy the bundle again or rebuild it")
        if entry.holes:
            try:
                data = assemble(data, [list(h) for h in entry.holes], self.manifest["tensors"], self.blob())
            except (ValueError, KeyError) as exc:
                raise BundleError(f"{stored}: cannot rebuild the artifact from the blob ({exc}); "
                                  f"rebuild the bundle") from None
        if sha256_bytes(data) != entry.sha256:
            raise BundleError(f"{stored}: rebuilt artifact does not match its sha256 in {MANIFEST}; "
                              f"the bundle is corrupt, rebuild it")
        return data

    def artifact_path(self, backend: str) -> Path:
        """Where ``backend``'s stored artifact is (a Core ML package is a folder)."""
        stored = self._artifact(backend).stored_as
        return bundle_file(self.path, stored, folder=(self.path / stored).is_dir())

    def _artifact(self, backend: str) -> schema.Artifact:
        if backend not in self.spec.artifacts:
            raise BundleError(f"{self.path}: has no {backend} artifact (it has {', '.join(self.backends)}); "
                              f"build it with --backends {backend}")
        return self.spec.artifacts[backend]


def _read_manifest(path: Path) -> tuple[dict, schema.Manifest]:
    file = path / MANIFEST
    if not path.exists():
        raise BundleError(f"{path}: no such bundle; build one with `edgeslim build RUN --target ...`")
    status = _regular(file)
    if status is None:
        raise BundleError(f"{path}: not an edgeslim bundle (no {MANIFEST})")
    if status.st_size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{file}: {status.st_size} bytes, larger than any manifest; not an edgeslim bundle")
    try:
        return schema.decode(file.read_bytes(), file)
    except BundleError:
        raise
    except EdgeslimError as exc:
        raise BundleError(str(exc)) from None


def _blob_header(path: Path, size: int) -> dict:
    """The safetensors header (an 8-byte little-endian length, then JSON), bounded by the file's size."""
    with open(path, "rb") as f:
        head = f.read(8)
        length = int.from_bytes(head, "little") if len(head) == 8 else -1
        if not 0 < length <= min(MAX_BLOB_HEADER_BYTES, size - 8):
            raise BundleError(f"{path}: not a safetensors weight blob (header length {length}); rebuild the bundle")
        try:
            header = msgspec.json.decode(f.read(length))
        except msgspec.DecodeError as exc:
            raise BundleError(f"{path}: damaged weight blob header ({exc}); rebuild the bundle") from None
    if not isinstance(header, dict):
        raise BundleError(f"{path}: damaged weight blob header; rebuild the bundle")
    return header


def open_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Open the bundle at ``path`` (a directory, or its ``.tar`` archive); with ``verify``, check every stored
    file against its sha256 (sizes, links and the schema are always checked)."""
    from edgeslim.device.bundle.archive import unpack_archive

    path = Path(path)
    if path.is_file():
        path = unpack_archive(path)
    manifest, spec = _read_manifest(path)
    blob = bundle_file(path, spec.blob.file, spec.blob.bytes)
    files = [(blob, spec.blob.sha256)]
    for artifact in spec.artifacts.values():
        folder = (path / artifact.stored_as).is_dir()
        stored = bundle_file(path, artifact.stored_as, None if folder else artifact.stored_bytes, folder=folder)
        files.append((stored, artifact.stored_sha256))
    if spec.samples:
        files.append((bundle_file(path, spec.samples.file), spec.samples.sha256))
    try:
        schema.check_against_blob(spec, _blob_header(blob, spec.blob.bytes), blob)
    except BundleError:
        raise
    except EdgeslimError as exc:
        raise BundleError(str(exc)) from None
    if verify:
        for file, digest in files:
            if sha256_of(file) != digest:
                raise BundleError(f"{file}: sha256 does not match {MANIFEST} (truncated or modified); "
                                  f"copy the bundle again or rebuild it")
    return Bundle(path, manifest, spec)
