"""Progressive sub-net search (PSS): rank channels, shrink progressively, re-select, jointly train."""

from .pipeline import SearchOptions, search

__all__ = ["SearchOptions", "search"]
