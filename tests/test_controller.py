"""The width controller's rules, driven by a fake clock and real Reading values."""

from edgeslim.device.controller import Policy, WidthController
from edgeslim.device.telemetry import Reading

COSTS = [1.0, 2.0, 4.0, 8.0]  # e.g. milliseconds of rungs w025..w100 on this device


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run(controller, clock, latency_of, steps, dt=0.01):
    rungs = []
    for _ in range(steps):
        clock.now += dt
        rungs.append(controller.step(latency_of(controller.rung)))
    return rungs


def test_latency_slo_steps_down_at_once_and_up_with_margin_after_dwell():
    clock = Clock()
    controller = WidthController(COSTS, Policy(slo_ms=5.0, window=8, dwell_s=2.0), clock=clock)
    rungs = run(controller, clock, lambda r: COSTS[r] * 1.1, 40)
    assert controller.rung == 2  # 8.8 ms misses the SLO, 4.4 ms fits
    assert rungs[:5] == [3] * 5 and rungs.index(2) < 10  # down as soon as the window has 5 samples
    clock.now += 100
    run(controller, clock, lambda r: COSTS[r] * 1.1, 40)
    assert controller.rung == 2  # 4.4 ms × 8/4 × 1.15 would break 5 ms: never steps up

    clock = Clock()
    controller = WidthController(COSTS, Policy(slo_ms=5.0, window=8, dwell_s=2.0), clock=clock)
    run(controller, clock, lambda r: COSTS[r] * 1.1, 10)
    assert controller.rung == 2
    fast = lambda r: COSTS[r] * 0.5  # noqa: E731 - the device cooled down: rung 3 now takes 4 ms
    assert set(run(controller, clock, fast, 30)) == {2}  # 0.3 s since the switch: still dwelling
    clock.now += 3
    run(controller, clock, fast, 10)
    assert controller.rung == 3  # 2 ms × 8/4 × 1.15 = 4.6 ms fits the 5 ms SLO


def test_thermal_caps_with_hysteresis_and_throttling():
    clock = Clock()
    reading = [Reading(temperature_c=50.0)]
    controller = WidthController(COSTS, Policy(telemetry_period_s=1.0), telemetry=lambda: reading[0], clock=clock)
    assert run(controller, clock, lambda r: 1.0, 3, dt=1.0)[-1] == 3
    reading[0] = Reading(temperature_c=81.0)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 1  # ≥ 80 °C: two rungs below the largest
    reading[0] = Reading(temperature_c=78.5)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 1  # within 3 °C hysteresis: cap holds
    reading[0] = Reading(temperature_c=76.0)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 2  # below 77: only the 70 °C cap is left
    reading[0] = Reading(temperature_c=60.0, throttled=True)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 2  # throttling flag: one rung down
    reading[0] = Reading(temperature_c=90.0)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 0


def test_battery_caps_only_while_discharging():
    clock = Clock()
    reading = [Reading(battery_pct=25.0, charging=False)]
    controller = WidthController(COSTS, Policy(), telemetry=lambda: reading[0], clock=clock)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 2
    reading[0] = Reading(battery_pct=10.0, charging=False)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 0
    reading[0] = Reading(battery_pct=10.0, charging=True)
    assert run(controller, clock, lambda r: 1.0, 2, dt=1.0)[-1] == 3


def test_telemetry_is_polled_at_most_once_per_period_and_may_be_missing():
    clock = Clock()
    calls = []
    controller = WidthController(COSTS, Policy(slo_ms=100.0, telemetry_period_s=1.0),
                                 telemetry=lambda: calls.append(clock.now), clock=clock)
    run(controller, clock, lambda r: 1.0, 500, dt=0.01)  # 5 s of inferences
    assert 5 <= len(calls) <= 6
    assert controller.rung == 3 and controller.reading is None  # unavailable: latency-only control


def test_policy_from_json_and_bad_costs():
    policy = Policy.from_json({"slo_ms": 33, "thermal_caps": [[75, 1]], "unknown": 1})
    assert policy.slo_ms == 33 and policy.thermal_caps == [(75.0, 1)]
    try:
        WidthController([2.0, 1.0], policy)
    except ValueError as exc:
        assert "increasing" in str(exc)
    else:
        raise AssertionError("decreasing costs accepted")


def test_shipped_traces_drive_the_controller_caps():
    from edgeslim.device.telemetry import Replay
    from edgeslim.resources import data_dir

    clock = Clock()
    for name, expect in (("trace-throttling-ramp.csv", "thermal"), ("trace-battery-drain.csv", "battery")):
        replay = Replay(data_dir("calibration") / name, clock=clock)
        clock.now = replay.start
        controller = WidthController(COSTS, Policy(), telemetry=replay.read, clock=clock)
        rungs = run(controller, clock, lambda r: 1.0, 600, dt=1.0)
        assert rungs[0] == 3 and min(rungs) == 0, (name, sorted(set(rungs)))
        if expect == "thermal":
            assert rungs[-1] > 0  # cooled down: the caps are lifted again
