"""Our own terminal output: progress bars and one success line per artifact, on stderr (stdout is for --json)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def progress(enabled: bool = True):
    """A progress display for long work (hidden with --json and off a terminal... except the final line)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=console,
                  disable=not enabled, transient=False) as bar:
        yield bar


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def success(what: str, path: Path, seconds: float, detail: str = "", size: int | None = None) -> None:
    """The one line per artifact, for every command: what, where, (what is inside,) how big, how long."""
    size = size_of(path) if size is None else size
    inside = f"{detail}, " if detail else ""
    console.print(f"[green]✓[/green] {what} saved to {os.path.relpath(path)} "
                  f"({inside}{human_bytes(size)}, {seconds:.1f} s)", soft_wrap=True)
