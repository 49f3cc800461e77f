"""What a sub-net costs for the search: MFLOPs, or milliseconds from a device latency table.

Latency table (JSON), either per layer, a linear model fitted on the device:
``{"format": "edgeslim-latency/1", "device": "...", "layers": {"<layer>": {"fixed_ms": a, "ms_per_mmac": b}}}``;
a sub-net's latency is the sum over its layers of ``fixed_ms + ms_per_mmac * MMACs(layer at its widths)``;
or per sub-net, as `edgeslim profile` writes it (``profiles/<device>-<backend>.latency.json``):
``{"format": "edgeslim-latency/1", "subnets": [{"mflops": m, "ms": t}, ...]}``; a sub-net's latency is then
interpolated (linearly, extrapolated at the ends) from the measured sub-nets by its MFLOPs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edgeslim.errors import EdgeslimError
from edgeslim.formats import LATENCY
from edgeslim.host.nn import Supernet, count_cost
from edgeslim.host.nn.cost import layer_costs
from edgeslim.host.nn.ops import SlimBatchNorm2d
from edgeslim.jsonfile import read_json
from edgeslim.subnets import SubnetConfig

CostFn = Callable[[SubnetConfig], float]


def mflops_cost(supernet: Supernet) -> CostFn:
    return lambda config: count_cost(supernet, config).mflops


def layer_mmacs(supernet: Supernet, config: SubnetConfig) -> dict[str, float]:
    """Millions of MACs of every conv and linear layer at ``config``."""
    return {name: cost.macs / 1e6 for name, cost in layer_costs(supernet, config).items()
            if not isinstance(supernet.net.get_submodule(name), SlimBatchNorm2d)}


def load_latency_table(path: str | Path, supernet: Supernet) -> CostFn:
    """A cost function in milliseconds from a per-layer latency table; every conv/linear layer must be in it."""
    table = read_json(path, dict, f'an edgeslim latency table {{"format": "{LATENCY}", "layers": {{...}}}}')
    if table.get("format") == LATENCY and isinstance(table.get("subnets"), list):
        return _subnet_table(path, table["subnets"], supernet)
    if table.get("format") != LATENCY or not isinstance(table.get("layers"), dict):
        raise EdgeslimError(f"{path}: not an edgeslim latency table (expected "
                            f'{{"format": "{LATENCY}", "layers": {{...}}}})')
    layers = table["layers"]
    needed = list(layer_mmacs(supernet, supernet.space.largest()))
    missing = [n for n in needed if n not in layers]
    if missing:
        raise EdgeslimError(f"{path}: no entry for layer(s) {', '.join(missing[:5])}"
                            f"{' …' if len(missing) > 5 else ''}; the table was measured for another model")
    try:
        model = {n: (float(layers[n]["fixed_ms"]), float(layers[n]["ms_per_mmac"])) for n in needed}
    except (KeyError, TypeError, ValueError):
        raise EdgeslimError(f"{path}: every layer needs numeric 'fixed_ms' and 'ms_per_mmac'") from None

    def latency(config: SubnetConfig) -> float:
        return sum(model[n][0] + model[n][1] * m for n, m in layer_mmacs(supernet, config).items())

    return latency


def _subnet_table(path, subnets: list, supernet: Supernet) -> CostFn:
    try:
        points = sorted((float(s["mflops"]), float(s["ms"])) for s in subnets)
    except (KeyError, TypeError, ValueError):
        raise EdgeslimError(f"{path}: every sub-net entry needs numeric 'mflops' and 'ms'") from None
    if len(points) < 2 or len({m for m, _ in points}) < 2:
        raise EdgeslimError(f"{path}: a per-sub-net latency table needs at least two sub-nets of different MFLOPs")

    def latency(config: SubnetConfig) -> float:
        m = count_cost(supernet, config).mflops
        (m0, t0), (m1, t1) = (points[0], points[1]) if m <= points[0][0] else (
            (points[-2], points[-1]) if m >= points[-1][0] else
            next((a, b) for a, b in zip(points, points[1:]) if a[0] <= m <= b[0]))
        return t0 + (t1 - t0) * (m - m0) / (m1 - m0) if m1 != m0 else t0

    return latency
