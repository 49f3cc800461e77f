"""Options objects for the Python API: one given object, keyword fields, or both (torch-free)."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TypeVar

from edgeslim.errors import unknown_name

T = TypeVar("T")


def with_fields(cls: type[T], options: T | None, overrides: dict) -> T:
    """``options`` (or the defaults of ``cls``) with ``overrides`` on top; an unknown field is one error line."""
    known = {f.name for f in fields(cls)}
    for name in overrides:
        if name not in known:
            raise unknown_name(f"option of {cls.__name__}", name, known)
    if options is None:
        return cls(**overrides)
    if not isinstance(options, cls):
        raise TypeError(f"expected {cls.__name__}, got {type(options).__name__}")
    return replace(options, **overrides) if overrides else options


def defaults(cls) -> dict:
    """The defaults of an options dataclass, read without constructing (and so without checking) one."""
    return {f.name: f.default for f in fields(cls)}
