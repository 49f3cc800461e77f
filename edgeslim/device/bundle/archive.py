"""Bundle archives (``BUNDLE.tar``): opened in place by extracting once into a cache keyed by their sha256,
within limits (torch-free).

An archive comes from elsewhere: only a plain (uncompressed) tar of regular files and folders with relative
names inside it is accepted; its manifest is read and checked first, and the archive may hold no more members
than ``MAX_MEMBERS`` and no more bytes than the manifest declares plus ``SLACK_BYTES`` (profiles and other
small files) — checked from the headers before extracting anything. ``EDGESLIM_MAX_BUNDLE_BYTES`` raises or
lowers that byte limit; ``EDGESLIM_CACHE`` moves the cache (default ``~/.cache/edgeslim``).
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path, PurePosixPath

from edgeslim.device.bundle import schema
from edgeslim.device.bundle.manifest import MANIFEST, MAX_MANIFEST_BYTES, BundleError, sha256_of
from edgeslim.errors import EdgeslimError
from edgeslim.files import publish_dir

MAX_MEMBERS = 10_000
SLACK_BYTES = 64 << 20


def cache_dir() -> Path:
    return Path(os.environ.get("EDGESLIM_CACHE", Path.home() / ".cache" / "edgeslim")) / "bundles"


def _byte_limit(tar: tarfile.TarFile, manifest: tarfile.TarInfo, archive: Path) -> int:
    """The most bytes the archive may extract to: what its manifest declares, plus slack (or the override)."""
    override = os.environ.get("EDGESLIM_MAX_BUNDLE_BYTES")
    if override:
        if not override.isdigit():
            raise BundleError(f"EDGESLIM_MAX_BUNDLE_BYTES={override!r}: give a number of bytes")
        return int(override)
    if manifest.size > MAX_MANIFEST_BYTES:
        raise BundleError(f"{archive}: its {MANIFEST} is {manifest.size} bytes, larger than any manifest")
    try:
        _, spec = schema.decode(tar.extractfile(manifest).read(), f"{archive}:{MANIFEST}")
    except EdgeslimError as exc:
        raise BundleError(str(exc)) from None
    declared = spec.blob.bytes + sum(a.stored_bytes for a in spec.artifacts.values())
    return declared + manifest.size + SLACK_BYTES


def _members(tar: tarfile.TarFile, archive: Path) -> list[tarfile.TarInfo]:
    """The archive's members, refused unless all are plain files and folders inside it, within the limits."""
    members = []
    for member in tar:
        members.append(member)
        if len(members) > MAX_MEMBERS:
            raise BundleError(f"{archive}: more than {MAX_MEMBERS} members; not an edgeslim bundle")
        name = PurePosixPath(member.name)
        if not (member.isfile() or member.isdir()) or name.is_absolute() or ".." in name.parts:
            raise BundleError(f"{archive}: unexpected member {member.name!r} (only files and folders inside the "
                              "bundle); not an edgeslim bundle")
    manifest = next((m for m in members if PurePosixPath(m.name) == PurePosixPath(MANIFEST) and m.isfile()), None)
    if manifest is None:
        raise BundleError(f"{archive}: no {MANIFEST} in the archive; not an edgeslim bundle archive")
    limit = _byte_limit(tar, manifest, archive)
    total = sum(m.size for m in members if m.isfile())
    if total > limit:
        raise BundleError(f"{archive}: would extract {total} bytes, more than the {limit} its manifest allows "
                          "(set EDGESLIM_MAX_BUNDLE_BYTES to raise the limit)")
    return members


def unpack_archive(archive: Path) -> Path:
    """Extract ``<bundle>.tar`` once into the cache (keyed by the archive's sha256); returns that directory."""
    try:
        tar = tarfile.open(archive, "r:")  # plain tar only: edgeslim writes no compressed archives
    except (tarfile.TarError, OSError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{archive}: neither a bundle directory nor a bundle .tar archive ({reason})") from None
    target = cache_dir() / sha256_of(archive)[:16]
    if (target / MANIFEST).is_file():
        tar.close()
        return target
    tmp = target.with_name(target.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with tar:
            members = _members(tar, archive)
            if hasattr(tarfile, "data_filter"):  # Python ≥ 3.11.4: the standard library's own checks on top
                tar.extractall(tmp, members=members, filter="data")
            else:
                tar.extractall(tmp, members=members)
    except (tarfile.TarError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BundleError(f"{archive}: not a readable bundle archive ({reason}); copy it again or rebuild "
                          f"it") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_dir(tmp, target)
    return target
