"""Width-controller overhead per inference (the cost of ``WidthController.step``), with and without telemetry.

    python bench/controller_overhead.py [--steps 200000]

Prints the mean and p99 cost per step in microseconds; compare with the smallest width's latency
(the goal is at most 2 % of it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from edgeslim.device.controller import Policy, WidthController
from edgeslim.device.telemetry import Replay
from edgeslim.resources import data_dir


def measure(controller: WidthController, latencies: np.ndarray) -> np.ndarray:
    costs = np.empty(len(latencies))
    for i, latency in enumerate(latencies.tolist()):
        start = time.perf_counter_ns()
        controller.step(latency)
        costs[i] = time.perf_counter_ns() - start
    return costs / 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    latencies = rng.gamma(9.0, 0.05, args.steps)  # ms, around the smallest widths' 0.1-0.8 ms
    costs = [0.1, 0.22, 0.45, 0.78]
    cases = {
        "latency SLO only": WidthController(costs, Policy(slo_ms=0.5)),
        "SLO + replayed telemetry (1 Hz)": WidthController(
            costs, Policy(slo_ms=0.5), telemetry=Replay(data_dir("calibration") / "trace-throttling-ramp.csv",
                                                        loop=True).read),
    }
    print("| controller | mean µs/step | p99 µs/step | % of a 0.10 ms inference |")
    print("|---|---|---|---|")
    for name, controller in cases.items():
        measure(controller, latencies[:10_000])  # warm-up
        us = measure(controller, latencies)
        print(f"| {name} | {us.mean():.2f} | {np.percentile(us, 99):.2f} | {100 * us.mean() / 100:.1f} % |")


if __name__ == "__main__":
    main()
