"""Writing files and directories so that readers never see half of one (torch-free)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edgeslim.errors import EdgeslimError


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary name beside ``path`` to write to; renamed to ``path`` on success, removed on failure."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write ``path`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def publish_dir(staged: Path, final: Path) -> None:
    """Make the finished directory ``staged`` become ``final``; an existing ``final`` stays intact until the new
    one is in place (it is moved aside to ``<final>.old`` first, removed last)."""
    old = final.with_name(final.name + ".old")
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
    os.replace(staged, final)
    shutil.rmtree(old, ignore_errors=True)


def make_dir(path: Path, what: str) -> Path:
    """Create the directory ``path`` (and its parents); a file in the way is one error line naming it."""
    path = Path(path)
    blocker = next((p for p in [path, *path.parents] if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise EdgeslimError(f"{what} {path}: {blocker} is a file, not a folder; choose another path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EdgeslimError(f"{what} {path}: cannot create it ({exc.strerror or exc})") from None
    return path


def output_file(path: str | Path, what: str) -> Path:
    """A file to write at ``path``, in a folder that exists (nothing is created elsewhere)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise EdgeslimError(f"{what} {path}: the folder {path.parent} does not exist; create it or choose another path")
    if path.is_dir():
        raise EdgeslimError(f"{what} {path}: is a folder; give a file name")
    return path
