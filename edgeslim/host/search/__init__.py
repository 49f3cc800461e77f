"""Progressive sub-net search (PSS): rank channels, shrink progressively, re-select, jointly train."""

from edgeslim.host.search.options import SearchOptions

__all__ = ["SearchOptions", "search"]


def __getattr__(name: str):
    if name == "search":  # the search needs torch; importing the options must not
        from edgeslim.host.search.pipeline import search

        return search
    raise AttributeError(name)
