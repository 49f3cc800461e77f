"""The bundle compiler (`edgeslim build`): fold, export, cut the weights out, write and validate the bundle."""

from edgeslim.host.compile.options import BuildOptions

__all__ = ["BuildOptions"]
