package dev.edgeslim;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.function.DoubleSupplier;

/** Picks a rung of the width ladder (0 = the smallest width) from latency, thermal and battery telemetry, with the
 * same rules as {@code edgeslim.device.controller.WidthController} (a conformance test replays both on the shipped
 * traces and requires the same decision at every step):
 * <ul>
 * <li>Latency SLO: when the p90 of the last {@code window} latencies exceeds {@code sloMs}, step down one rung at
 * once; step up only after {@code dwellS} at the rung, when the next rung's predicted p90 stays {@code upMargin}
 * below the SLO.</li>
 * <li>Thermal caps with hysteresis, a throttling flag, battery caps while discharging.</li>
 * <li>Telemetry is polled at most every {@code telemetryPeriodS}; without it the controller uses latency alone.</li>
 * </ul>
 * Call {@link #step} after every inference with its latency; run the rung it returns next. Not thread-safe: call
 * it from the inference thread. */
public final class WidthController {
    private final double[] costs;
    private final Policy policy;
    private final Telemetry telemetry;
    private final DoubleSupplier clock;
    private final int top;
    private final ArrayDeque<Double> latencies = new ArrayDeque<>();
    private final int checkEvery;
    private int rung;
    private int cap;
    private double since;
    private double lastPoll = Double.NEGATIVE_INFINITY;
    private Reading reading;
    private int thermalSteps;
    private long count;

    /** {@code costs}: each rung's relative cost (e.g. its p50 latency), smallest rung first, non-decreasing;
     * {@code telemetry} may be null; {@code clock} in seconds (monotonic). */
    public WidthController(double[] costs, Policy policy, Telemetry telemetry, DoubleSupplier clock) {
        if (costs.length == 0) {
            throw new IllegalArgumentException("rung costs must be given smallest rung first, in increasing order");
        }
        double[] sorted = costs.clone();
        Arrays.sort(sorted);
        if (!Arrays.equals(sorted, costs)) {
            throw new IllegalArgumentException("rung costs must be given smallest rung first, in increasing order");
        }
        this.costs = costs.clone();
        this.policy = policy;
        this.telemetry = telemetry;
        this.clock = clock;
        this.top = costs.length - 1;
        this.rung = top;
        this.cap = top;
        this.since = clock.getAsDouble();
        this.checkEvery = Math.max(1, policy.window / 4);
    }

    /** A controller on the system's monotonic clock. */
    public WidthController(double[] costs, Policy policy, Telemetry telemetry) {
        this(costs, policy, telemetry, () -> System.nanoTime() / 1e9);
    }

    /** The rung to run now. */
    public int rung() {
        return rung;
    }

    /** The largest rung the last telemetry reading allows. */
    public int cap() {
        return cap;
    }

    /** The last telemetry reading (null before the first or when the source knows nothing). */
    public Reading reading() {
        return reading;
    }

    /** Record one inference at the current rung; return the rung for the next one. */
    public int step(double latencyMs) {
        if (latencies.size() == policy.window) {
            latencies.removeFirst();
        }
        latencies.addLast(latencyMs);
        count++;
        double now = clock.getAsDouble();
        if (telemetry != null && now - lastPoll >= policy.telemetryPeriodS) {
            lastPoll = now;
            reading = telemetry.read();
            cap = capFor(reading);
        }
        int target = Math.min(rung, cap);
        if (policy.sloMs != null && count % checkEvery == 0 && latencies.size() >= 5) {
            target = latencyRule(target, now);
        } else if (policy.sloMs == null) {
            target = cap;
        }
        if (target != rung) {
            rung = target;
            since = now;
            latencies.clear();
        }
        return rung;
    }

    private int latencyRule(int current, double now) {
        double[] ordered = new double[latencies.size()];
        int i = 0;
        for (double v : latencies) {
            ordered[i++] = v;
        }
        Arrays.sort(ordered);
        double p = ordered[Math.min(ordered.length - 1, (int) (ordered.length * policy.percentile / 100))];
        double slo = policy.sloMs;
        if (p > slo) {
            return Math.max(0, current - 1);
        }
        if (current < cap && now - since >= policy.dwellS) {
            double predicted = p * costs[current + 1] / costs[current];
            if (predicted * (1 + policy.upMargin) <= slo) {
                return current + 1;
            }
        }
        return current;
    }

    /** The largest rung {@code reading} allows (the largest when there is none); keeps the thermal hysteresis. */
    public int capFor(Reading reading) {
        if (reading == null) {
            thermalSteps = 0;
            return top;
        }
        int steps = 0;
        if (reading.temperatureC() != null) {
            double t = reading.temperatureC();
            int wanted = 0;
            int held = 0;
            for (Policy.Cap c : policy.thermalCaps) {
                if (t >= c.limit()) {
                    wanted = Math.max(wanted, c.steps());
                }
                if (c.steps() <= thermalSteps && t >= c.limit() - policy.hysteresisC) {
                    held = Math.max(held, c.steps());
                }
            }
            thermalSteps = Math.max(wanted, held);
            steps = thermalSteps;
        }
        if (Boolean.TRUE.equals(reading.throttled())) {
            steps += policy.throttleSteps;
        }
        if (reading.batteryPct() != null && !Boolean.TRUE.equals(reading.charging())) {
            int battery = 0;
            for (Policy.Cap c : policy.batteryCaps) {
                if (reading.batteryPct() <= c.limit()) {
                    battery = Math.max(battery, c.steps());
                }
            }
            steps = Math.max(steps, battery);
        }
        return Math.max(0, top - steps);
    }
}
