"""Accuracy and cost of sub-nets: top-1 on a test split, MFLOPs, parameters."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from edgeslim.host.data import Dataset
from edgeslim.host.nn import Supernet, count_cost
from edgeslim.subnets import SubnetConfig


@torch.no_grad()
def top1(supernet: Supernet, config: SubnetConfig, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> float:
    """Top-1 accuracy (%) of ``config`` on normalized images ``x`` (eval mode, the config's BN statistics)."""
    supernet.set_config(config)
    was_training = supernet.training
    supernet.eval()
    device = next(supernet.parameters()).device
    correct = 0
    for i in range(0, len(x), batch_size):
        logits = supernet(torch.from_numpy(x[i:i + batch_size]).to(device))
        correct += int((logits.argmax(1).cpu() == torch.from_numpy(y[i:i + batch_size])).sum())
    supernet.train(was_training)
    return 100.0 * correct / max(1, len(x))


def calibration_batches(dataset: Dataset, samples: int, batch_size: int = 256,
                        device: str | torch.device = "cpu") -> Iterator[torch.Tensor]:
    """Normalized training images (the first ``samples``, fixed order) for BN recalibration."""
    x = dataset.normalize(dataset.x_train[:samples])
    for i in range(0, len(x), batch_size):
        yield torch.from_numpy(x[i:i + batch_size]).to(device)


def describe(supernet: Supernet, config: SubnetConfig, dataset: Dataset) -> dict:
    """One row of the width table: name, channels per group, MFLOPs, params, top-1 on the test split."""
    cost = count_cost(supernet, config)
    accuracy = top1(supernet, config, dataset.normalize(dataset.x_test), dataset.y_test)
    return {"name": config.name, "channels": dict(config.channels), "mflops": round(cost.mflops, 4),
            "params": cost.params, "top1": round(accuracy, 2)}


def ship(supernet: Supernet, configs: list[SubnetConfig], dataset: Dataset, calib_samples: int,
         extra_meta: dict[str, dict] | None = None) -> list[dict]:
    """Recalibrate BN for each configuration, measure it, and return the run.json entries (metrics in ``meta``)."""
    device = next(supernet.parameters()).device
    shipped = []
    for config in configs:
        supernet.recalibrate_bn(config, calibration_batches(dataset, calib_samples, device=device))
        row = describe(supernet, config, dataset)
        meta = {"mflops": row["mflops"], "params": row["params"], "top1": row["top1"],
                **(extra_meta or {}).get(config.name, {})}
        shipped.append(SubnetConfig(row["name"], row["channels"], meta).to_json())
    return shipped


def gated_rows(supernet: Supernet, configs: list[SubnetConfig], dataset: Dataset, gate_info: dict) -> list[dict]:
    """One row per gate width head, then one per reported share of the confidence cascade (to the largest width):
    top-1 and average MFLOPs of input-dependent routing on the test split."""
    from edgeslim.host.gate.routing import (RouteCache, cascade_metrics, cascade_route, ladder_macs, route,
                                            routed_metrics, shared_macs)

    ladder = [next(c for c in configs if c.name == name) for name in gate_info["widths"]]
    cache = RouteCache.compute(supernet, ladder, dataset.normalize(dataset.x_test), dataset.y_test)
    macs = ladder_macs(supernet, ladder)
    params = count_cost(supernet, ladder[-1]).params
    rows = []
    for head in gate_info["heads"]:
        metrics = routed_metrics(cache, route(supernet, cache, head["name"]), macs)
        rows.append({"name": f"gate {head['name']}", "complexity_weight": head["complexity_weight"],
                     "mflops": metrics["mflops"], "params": params, "top1": metrics["top1"],
                     "share": dict(zip(gate_info["widths"], metrics["share"])), "channels": {}})
    cascade = gate_info.get("cascade")  # runs trained before the cascade have none
    thresholds = dict(zip(cascade["shares"], cascade["thresholds"])) if cascade else {}
    for point in cascade["points"] if cascade else []:
        chosen = cascade_route(cache, thresholds[point["share"]], len(ladder) - 1)
        metrics = cascade_metrics(cache, chosen, macs, shared_macs(supernet, ladder[-1]))
        rows.append({"name": f"cascade {point['share']:.0%}", "mflops": metrics["mflops"], "params": params,
                     "top1": metrics["top1"], "share": {gate_info["widths"][0]: round(1 - metrics["escalated"], 3),
                                                        gate_info["widths"][-1]: metrics["escalated"]},
                     "channels": {}})
    return rows


def evaluate_run(run, data: str | None = None, widths: str | None = None, configs: str | None = None
                 ) -> tuple[Dataset, list[dict]]:
    """The width table of ``run`` on ``data`` (default: its own test split): every shipped configuration, any
    extra uniform ``widths`` ("0.3,0.6") or ``configs`` (a JSON file), BN recalibrated for those on the fly
    (marked ``extra``); then
    one row per gate width head and per reported cascade share (with ``share``: the images per width) for a gated
    run."""
    from edgeslim.errors import EdgeslimError
    from edgeslim.host.data import load_dataset
    from edgeslim.subnets import load_configs

    info = run.info
    dataset = load_dataset(data or info["data"], info["options"]["seed"])
    if dataset.input_shape != tuple(info["input_shape"]) or dataset.num_classes != info["num_classes"]:
        raise EdgeslimError(f"--data {data}: {dataset.input_shape} inputs and {dataset.num_classes} classes, "
                            f"but the run expects {tuple(info['input_shape'])} and {info['num_classes']}")
    space = run.supernet.space
    extra = (space.parse_widths(widths) if widths else []) + (load_configs(configs, space) if configs else [])
    for config in extra:
        if config.key() not in run.supernet.bn_stats:
            run.supernet.recalibrate_bn(config, calibration_batches(dataset, info["options"]["calib_samples"]))
    rows = [describe(run.supernet, c, dataset) for c in run.configs]
    rows += [{**describe(run.supernet, c, dataset), "extra": True} for c in extra]
    if "gate" in info:
        rows += gated_rows(run.supernet, run.configs, dataset, info["gate"])
    return dataset, rows
