"""Multi-process data-parallel training on torch.distributed (gloo on CPU, nccl on GPU), started by torchrun."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str) -> World:
        """Join the process group torchrun describes in the environment, or run alone."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if size == 1:
            return cls(device=torch.device("cuda" if use_cuda else "cpu"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if use_cuda:
            torch.cuda.set_device(local_rank)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if use_cuda else "gloo")
        return cls(dist.get_rank(), size, torch.device(f"cuda:{local_rank}" if use_cuda else "cpu"))

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.size == 1:
            return model
        return DistributedDataParallel(model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def replica_max_abs_diff(self, model: nn.Module) -> float:
        """Largest difference of any parameter between this process and the others (0.0 when in sync)."""
        if self.size == 1:
            return 0.0
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(self.size)]
        dist.all_gather(gathered, flat)
        return max(float((g - flat).abs().max()) for g in gathered)

    def close(self) -> None:
        if self.size > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
