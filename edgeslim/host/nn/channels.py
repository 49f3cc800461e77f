"""Which channels of a layer's weight a sub-net uses: ordered segments of channel groups.

A tensor's channels are a sequence of segments, each the full range of one channel group (or fixed at full
width). A plain conv output is one segment; a concat is the segments of its inputs in order, so a sub-net's
concat is not a prefix of the full one: a consumer takes the first k channels of *each* segment. Where every
segment but the last is whole, that is a prefix and layers slice; otherwise they gather (static at extraction,
so an exported width is an ordinary dense layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from edgeslim.subnets import SubnetConfig

Take = int | torch.Tensor | None  # None: all channels; int n: the first n; a tensor: these indices


@dataclass(frozen=True)
class Segment:
    """Channels ``offset .. offset+size`` of a layer's full dimension belong to ``group`` (``None``: fixed)."""

    group: str | None
    offset: int
    size: int

    def active(self, config: SubnetConfig) -> int:
        return self.size if self.group is None else config.channels[self.group]


@dataclass(frozen=True)
class LayerChannels:
    """The segments of a slimmable layer's output (``rows``) and input (``cols``) channels.

    Channel-wise layers (batch norm, depthwise and grouped convs) have ``rows == cols``. ``per_channel`` is the
    number of input features per channel of a Linear fed a flattened C x H x W map.
    """

    rows: tuple[Segment, ...]
    cols: tuple[Segment, ...]
    per_channel: int = 1

    def groups(self) -> set[str]:
        return {s.group for s in self.rows + self.cols if s.group is not None}


def take(segments: tuple[Segment, ...], config: SubnetConfig, per_channel: int = 1,
         device: torch.device | None = None) -> Take:
    """The active channels of ``segments`` at ``config``: ``None`` (all), a prefix length, or indices."""
    counts = [s.active(config) for s in segments]
    if all(n == s.size for n, s in zip(counts, segments)):
        return None
    if all(n == s.size for n, s in zip(counts[:-1], segments[:-1])):
        return (segments[-1].offset + counts[-1]) * per_channel
    index = torch.cat([torch.arange(s.offset, s.offset + n) for s, n in zip(segments, counts)])
    if per_channel > 1:
        index = (index[:, None] * per_channel + torch.arange(per_channel)).flatten()
    return index.to(device)


def runs(segments: tuple[Segment, ...], config: SubnetConfig, per_channel: int = 1) -> list[list[int]]:
    """The active channels at ``config`` as ``[start, length]`` runs (merged where contiguous)."""
    out: list[list[int]] = []
    for s in segments:
        start, length = s.offset * per_channel, s.active(config) * per_channel
        if out and out[-1][0] + out[-1][1] == start:
            out[-1][1] += length
        elif length:
            out.append([start, length])
    return out


def narrow(tensor: torch.Tensor, dim: int, which: Take) -> torch.Tensor:
    """``tensor`` restricted to the channels ``which`` along ``dim``."""
    if which is None:
        return tensor
    if isinstance(which, int):
        return tensor.narrow(dim, 0, which)
    return tensor.index_select(dim, which)


def permutation(segments: tuple[Segment, ...], orders: dict[str, torch.Tensor], per_channel: int = 1
                ) -> torch.Tensor | None:
    """The full-dimension permutation that applies each group's order to its segments (``None``: unchanged)."""
    if not any(s.group in orders for s in segments):
        return None
    parts = [s.offset + (orders[s.group] if s.group in orders else torch.arange(s.size)) for s in segments]
    index = torch.cat(parts)
    if per_channel > 1:
        index = (index[:, None] * per_channel + torch.arange(per_channel)).flatten()
    return index
