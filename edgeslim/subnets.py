"""Channel groups and sub-net configurations as plain data (no torch: the device reads them from manifests).

A *channel group* is a set of channel dimensions that must stay equal, e.g. every output summed by one residual
stage. A *sub-net configuration* gives one channel count per group; a narrower sub-net uses the first k channels
of every weight, so configurations are nested prefixes of the full network.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from edgeslim.errors import EdgeslimError, unknown_name
from edgeslim.jsonfile import read_json


def group_granularity(channels: int, granularity: int) -> int:
    """The step of a group: ``granularity`` (default 8), or a quarter of the group for tiny groups."""
    return granularity if channels >= 4 * granularity else max(1, channels // 4)


@dataclass(frozen=True)
class ChannelGroup:
    """Coupled output channels: ``members`` are the layers whose outputs belong to this group."""

    name: str
    channels: int
    granularity: int
    members: tuple[str, ...] = ()

    def choices(self) -> list[int]:
        """All channel counts this group can take, smallest first (multiples of the step, and the full width)."""
        return [*range(self.granularity, self.channels, self.granularity), self.channels]

    def round(self, count: float) -> int:
        """The valid channel count nearest to ``count`` (the larger one on a tie)."""
        return min(self.choices(), key=lambda c: (abs(c - count), -c))


@dataclass(frozen=True)
class SubnetConfig:
    """One channel count per group. ``name`` is how bundles and the runtime call it (e.g. ``w050``)."""

    name: str
    channels: Mapping[str, int]
    meta: Mapping[str, float] = field(default_factory=dict, compare=False)

    def key(self) -> str:
        """A canonical string identifying the channel counts (independent of the name)."""
        return ",".join(f"{g}={c}" for g, c in sorted(self.channels.items()))

    def to_json(self) -> dict:
        return {"name": self.name, "channels": dict(self.channels), **({"meta": dict(self.meta)} if self.meta else {})}

    @classmethod
    def from_json(cls, data: Mapping) -> SubnetConfig:
        if not isinstance(data, Mapping) or "channels" not in data or not isinstance(data["channels"], Mapping):
            raise EdgeslimError("a sub-net configuration must be an object with 'name' and 'channels', "
                                f"got {data!r:.80}")
        try:
            channels = {str(k): int(v) for k, v in data["channels"].items()}
            return cls(str(data.get("name", "custom")), channels, dict(data.get("meta") or {}))
        except (TypeError, ValueError):
            raise EdgeslimError(f"a sub-net configuration needs whole channel counts per group, got "
                                f"{data['channels']!r:.80}") from None


def width_name(width: float) -> str:
    """``0.5`` -> ``w050``: the name of a uniform-width configuration."""
    return f"w{round(width * 100):03d}"


@dataclass(frozen=True)
class ChannelSpace:
    """The slimmable channel groups of a network and the configurations they allow.

    ``fixed`` groups stay at full width in every uniform configuration (the part before a DS-Net++ gate).
    """

    groups: tuple[ChannelGroup, ...]
    fixed: frozenset[str] = field(default=frozenset(), compare=False)

    def group(self, name: str) -> ChannelGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise unknown_name("channel group", name, [g.name for g in self.groups])

    def uniform(self, width: float, name: str | None = None) -> SubnetConfig:
        """Every group at ``width`` times its full channels, rounded to its granularity."""
        if not 0.0 < width <= 1.0:
            raise EdgeslimError(f"width {width} is out of range: use a fraction in (0, 1], e.g. 0.25 or 0.5")
        return SubnetConfig(name or width_name(width), {g.name: g.channels if g.name in self.fixed
                                                        else g.round(width * g.channels) for g in self.groups})

    def largest(self) -> SubnetConfig:
        return self.uniform(1.0)

    def validate(self, config: SubnetConfig) -> SubnetConfig:
        """Check that ``config`` names every group once with a valid count; return it."""
        names = {g.name for g in self.groups}
        for gname in config.channels:
            if gname not in names:
                raise unknown_name(f"channel group in configuration '{config.name}'", gname, names)
        for g in self.groups:
            if g.name not in config.channels:
                raise EdgeslimError(f"configuration '{config.name}' misses channel group '{g.name}' "
                                    f"(give a count in {g.granularity}..{g.channels})")
            count = config.channels[g.name]
            if g.name in self.fixed and count != g.channels:
                raise EdgeslimError(f"configuration '{config.name}': group '{g.name}' runs before the gate and stays "
                                    f"at its full {g.channels} channels")
            if count not in g.choices():
                raise EdgeslimError(
                    f"configuration '{config.name}': group '{g.name}' has {count} channels; use a multiple of "
                    f"{g.granularity} between {g.granularity} and {g.channels}, or {g.channels}")
        return config

    def parse_widths(self, text: str) -> list[SubnetConfig]:
        """``"0.25,0.5,1"`` -> uniform configurations, validated."""
        configs = []
        for part in text.split(","):
            try:
                width = float(part)
            except ValueError:
                raise EdgeslimError(f"--widths: '{part}' is not a number; use e.g. 0.25,0.5,0.75,1.0") from None
            configs.append(self.uniform(width))
        return configs

    def to_json(self) -> list[dict]:
        return [{"name": g.name, "channels": g.channels, "granularity": g.granularity, "members": list(g.members)}
                for g in self.groups]

    @classmethod
    def from_json(cls, data: list) -> ChannelSpace:
        return cls(tuple(ChannelGroup(d["name"], int(d["channels"]), int(d["granularity"]), tuple(d["members"]))
                         for d in data))


def load_configs(path: str | Path, space: ChannelSpace) -> list[SubnetConfig]:
    """Read a JSON list of configurations (``[{"name":..., "channels": {...}}, ...]``) and validate each."""
    data = read_json(path, list, "a JSON list of sub-net configurations")
    return [space.validate(SubnetConfig.from_json(d)) for d in data]

