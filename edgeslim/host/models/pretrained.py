"""Pretrained weights as the start of training (``--init WEIGHTS``): read, matched to the model, loaded.

Accepted: a safetensors file, or a PyTorch checkpoint read with ``torch.load(weights_only=True)`` (no pickled
code runs) holding a state dict directly or under ``state_dict`` / ``model`` / ``model_state_dict``; a
``module.`` prefix (DataParallel / DDP) is dropped. The keys and shapes must be the model's: anything else is one
line naming what differs.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from edgeslim.errors import EdgeslimError
from edgeslim.host.nn import Supernet

NESTED = ("state_dict", "model", "model_state_dict")
OPTIONAL = ("num_batches_tracked",)  # BN counters: absent from many checkpoints, unused by training


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, by name."""
    path = Path(path)
    if not path.is_file():
        raise EdgeslimError(f"--init {path}: no such file; give a .safetensors file or a PyTorch checkpoint")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises several types for a damaged file
            raise EdgeslimError(f"--init {path}: not a readable safetensors file ({exc})") from None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise EdgeslimError(f"--init {path}: holds pickled objects besides tensors, which weights_only=True refuses "
                            "to load; save model.state_dict() (or a .safetensors file) instead") from None
    except Exception as exc:  # a damaged or foreign file raises several types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeslimError(f"--init {path}: not a PyTorch checkpoint of tensors ({reason[:200]}); save the "
                            "state_dict (torch.save(model.state_dict(), path)) or a .safetensors file") from None
    for key in NESTED:
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
            break
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise EdgeslimError(f"--init {path}: holds no state dict of tensors (looked at the top level and under "
                            f"{', '.join(NESTED)})")
    return {k.removeprefix("module."): v for k, v in data.items()}


def load_pretrained(supernet: Supernet, path: str | Path) -> str:
    """Load the weights file ``path`` into the supernet's full-width network; returns the file's sha256."""
    tensors = read_weights(path)
    expected = supernet.net.state_dict()
    missing = [k for k in expected if k not in tensors and not k.endswith(OPTIONAL)]
    unexpected = [k for k in tensors if k not in expected]
    reshaped = [f"{k} {list(v.shape)} (model {list(expected[k].shape)})" for k, v in tensors.items()
                if k in expected and v.shape != expected[k].shape]
    if missing or unexpected or reshaped:
        parts = [f"{len(items)} {what} ({', '.join(items[:3])}{', …' if len(items) > 3 else ''})"
                 for what, items in (("missing", missing), ("unexpected", unexpected), ("of another shape", reshaped))
                 if items]
        raise EdgeslimError(f"--init {path}: does not fit the model: {'; '.join(parts)}; the weights must come from "
                            "the same model definition, input channels and classes")
    with torch.no_grad():
        for key, value in tensors.items():
            expected[key].copy_(value.to(expected[key].dtype))
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
