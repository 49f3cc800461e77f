"""Each shipped width as a static, BN-folded model whose constants are computed from the shared weight blob.

The blob holds the supernet's full-width weights (unfolded) and every width's recalibrated BN statistics, once.
A width's constants are *recipes* over it (slice, fold BN, see :mod:`edgeslim.device.bundle.recipes`); the build
materializes them with the device's own numpy code, so the exported constants are byte-identical to what the
device computes from the blob. Folding per width keeps every width's own BN statistics (US-Nets
post-statistics) and gives the exporters plain conv + bias, which every backend delegates.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import fx, nn

from edgeslim.device.bundle.recipes import materialize
from edgeslim.errors import EdgeslimError
from edgeslim.host.nn import Supernet
from edgeslim.host.nn.channels import runs
from edgeslim.subnets import SubnetConfig


def _stats_names(config: SubnetConfig, bn_layer: str) -> tuple[str, str]:
    return f"bn.{config.name}.{bn_layer}.running_mean", f"bn.{config.name}.{bn_layer}.running_var"


def blob_tensors(supernet: Supernet, configs: list[SubnetConfig]) -> dict[str, np.ndarray]:
    """The shared weight blob: full-width parameters, each config's BN statistics and a gate's weights
    (``gate.*``), as float32 numpy."""
    blob = {name: t.detach().cpu().numpy().astype(np.float32)
            for name, t in supernet.net.state_dict().items()
            if t.is_floating_point() and not name.endswith(("running_mean", "running_var"))}
    for config in configs:
        stats = supernet.bn_stats.get(config.key())
        if stats is None:
            raise EdgeslimError(f"configuration {config.name} has no recalibrated BN statistics; "
                                f"run `edgeslim eval` or retrain the run")
        for layer, (mean, var) in stats.items():
            mean_name, var_name = _stats_names(config, layer)
            blob[mean_name] = mean.cpu().numpy().astype(np.float32)
            blob[var_name] = var.cpu().numpy().astype(np.float32)
    if supernet.gate is not None:
        blob.update({f"gate.{k}": v.detach().cpu().numpy().astype(np.float32)
                     for k, v in supernet.gate.state_dict().items()})
    return blob


def _single_bn_user(node: fx.Node, modules: dict[str, nn.Module]) -> fx.Node | None:
    users = list(node.users)
    if len(users) == 1 and users[0].op == "call_module" and isinstance(modules[users[0].target], nn.BatchNorm2d):
        return users[0]
    return None


def _runs(supernet: Supernet, layer: str, config: SubnetConfig) -> tuple[dict, dict]:
    """``{"rows": runs}`` / ``{"cols": runs}`` where ``layer`` takes segments at ``config``, else ``{}``."""
    channels = supernet.channels.get(layer)
    if channels is None:
        return {}, {}
    module = supernet.net.get_submodule(layer)
    rows = runs(channels.rows, config)
    cols = [] if getattr(module, "channelwise", False) else runs(channels.cols, config, channels.per_channel)
    return ({"rows": rows} if len(rows) > 1 else {}), ({"cols": cols} if len(cols) > 1 else {})


@torch.no_grad()
def folded_width(supernet: Supernet, config: SubnetConfig, blob: dict[str, np.ndarray]
                 ) -> tuple[fx.GraphModule, dict[str, dict]]:
    """``config`` as a static eval model (conv + BN folded), and the recipe of each conv / linear constant.

    Recipes are keyed by the static model's parameter names; their values are loaded from ``blob``.
    """
    static = supernet.extract(config)
    modules = dict(static.named_modules())
    recipes: dict[str, dict] = {}
    for node in list(static.graph.nodes):
        if node.op != "call_module" or not isinstance(modules[node.target], (nn.Conv2d, nn.Linear)):
            continue
        layer, module = node.target, modules[node.target]
        bn = None
        bn_node = _single_bn_user(node, modules) if isinstance(module, nn.Conv2d) else None
        if bn_node is not None:
            mean_name, var_name = _stats_names(config, bn_node.target)
            bn = {"weight": f"{bn_node.target}.weight", "bias": f"{bn_node.target}.bias",
                  "mean": mean_name, "var": var_name, "eps": float(modules[bn_node.target].eps)}
            bn_node.replace_all_uses_with(node)
            static.graph.erase_node(bn_node)
            static.delete_submodule(bn_node.target)
            if module.bias is None:
                module.bias = nn.Parameter(torch.zeros(module.weight.shape[0]))
        rows, cols = _runs(supernet, layer, config)
        recipes[f"{layer}.weight"] = {"source": f"{layer}.weight", "shape": list(module.weight.shape), "bn": bn,
                                      **rows, **cols}
        if module.bias is not None:
            source = f"{layer}.bias" if f"{layer}.bias" in blob else None
            recipes[f"{layer}.bias"] = {"source": source, "shape": [module.weight.shape[0]], "bn": bn, "bias": True,
                                        **rows}
    static.recompile()
    params = dict(static.named_parameters())
    for name, recipe in recipes.items():
        params[name].copy_(torch.from_numpy(materialize(recipe, blob)))
    return static.eval().requires_grad_(False), recipes
