"""The DS-Net++ double-headed gate: channel attention on an early stage, and which width the rest runs at.

One shared layer reads the globally pooled features of the stage before the gate. The *attention head*
(squeeze-and-excitation) rescales those features for every width alike; it is trained with the supernet
(stage I). Each *width head* maps the same hidden vector to one logit per shipped width; it is trained on the
frozen supernet (stage II), one head per complexity weight, so a bundle can carry several trade-offs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class WidthGate(nn.Module):
    """``attend(features) -> (features * attention, hidden)``; ``heads[name](hidden) -> width logits``."""

    def __init__(self, channels: int, num_widths: int, hidden: int = 32):
        super().__init__()
        self.channels, self.num_widths, self.hidden = channels, num_widths, hidden
        self.squeeze = nn.Linear(channels, hidden)
        self.attention = nn.Linear(hidden, channels)
        self.heads = nn.ModuleDict()

    def add_head(self, name: str) -> nn.Module:
        head = nn.Sequential(nn.Linear(self.hidden, self.hidden), nn.ReLU(), nn.Linear(self.hidden, self.num_widths))
        self.heads[name] = head
        return head

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        return F.relu(self.squeeze(features.mean((2, 3))))

    def attend(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.encode(features)
        scale = torch.sigmoid(self.attention(hidden))
        return features * scale[:, :, None, None], hidden

    def macs(self) -> int:
        """Multiply-accumulates of the attention and one width head (pooling not counted)."""
        return self.channels * self.hidden * 2 + self.hidden * self.hidden + self.hidden * self.num_widths

    def params(self) -> int:
        """Parameters of the attention and one width head (what one routed inference uses)."""
        return self.macs() + self.hidden * 2 + self.channels + self.num_widths


class GateProgram(nn.Module):
    """What the device runs first: the prefix, the attention, and every width head's logits (heads × widths)."""

    def __init__(self, prefix: nn.Module, gate: WidthGate):
        super().__init__()
        self.prefix, self.gate = prefix, gate
        self.head_names = list(gate.heads)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features, hidden = self.gate.attend(self.prefix(x))
        logits = torch.stack([self.gate.heads[name](hidden) for name in self.head_names], 1)
        return features, logits


def straight_through_gumbel(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """A one-hot sample in the forward pass, the Gumbel-softmax gradient in the backward pass."""
    return F.gumbel_softmax(logits, tau=tau, hard=True)
