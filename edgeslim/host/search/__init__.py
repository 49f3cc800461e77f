"""Progressive sub-net search (PSS): rank channels, shrink progressively, re-select, jointly train
(``pipeline.search``; the options are torch-free)."""

from edgeslim.host.search.options import SearchOptions

__all__ = ["SearchOptions"]
