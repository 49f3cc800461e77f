"""Host side of `edgeslim build`: fold, export, cut the weights out, write and validate the bundle."""

from edgeslim.host.compile.builder import BuildOptions, build

__all__ = ["BuildOptions", "build"]
