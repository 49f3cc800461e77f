"""Options of `edgeslim search` and of the search inside `train --method pss` (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass

from edgeslim.errors import EdgeslimError

UNITS = ("fraction", "mflops", "ms")


@dataclass
class SearchOptions:
    budgets: str = "0.25,0.5,0.75,1.0"
    unit: str = "fraction"
    latency_table: str | None = None
    threshold: float = 1.0
    finetune_epochs: int = 1
    final_epochs: int = 10
    final_lr_scale: float = 1.0
    rank_steps: int = 150
    holdout_fraction: float = 0.15
    device: str = "auto"
    show_progress: bool = True

    def parse_budgets(self) -> list[float]:
        if self.unit not in UNITS:
            raise EdgeslimError(f"--unit '{self.unit}' is unknown; use one of {', '.join(UNITS)}")
        if self.unit == "ms" and not self.latency_table:
            raise EdgeslimError("--unit ms needs --latency-table FILE (a per-layer table measured on the device)")
        try:
            budgets = sorted(float(b) for b in self.budgets.split(","))
        except ValueError:
            raise EdgeslimError(f"--budgets '{self.budgets}': use numbers, e.g. 0.25,0.5,0.75,1.0") from None
        if not budgets or budgets[0] <= 0 or (self.unit == "fraction" and budgets[-1] > 1):
            raise EdgeslimError(f"--budgets '{self.budgets}': fractions must be in (0, 1]")
        return budgets
