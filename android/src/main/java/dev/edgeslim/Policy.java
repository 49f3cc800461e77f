package dev.edgeslim;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Controller thresholds, with the defaults and meaning of {@code edgeslim.device.controller.Policy}; a bundle's
 * manifest carries its target's ({@link Bundle#policy()}). Fields are public and may be changed before the
 * controller is created. */
public final class Policy {
    /** One cap: at or above {@code limit} (°C) or at or below it (battery %), the largest rung minus {@code steps}. */
    public record Cap(double limit, int steps) {}

    public Double sloMs = null;
    public int window = 20;
    public double percentile = 90.0;
    public double upMargin = 0.15;
    public double dwellS = 5.0;
    public List<Cap> thermalCaps = new ArrayList<>(java.util.Arrays.asList(new Cap(70, 1), new Cap(80, 2),
            new Cap(85, 99)));
    public double hysteresisC = 3.0;
    public int throttleSteps = 1;
    public List<Cap> batteryCaps = new ArrayList<>(java.util.Arrays.asList(new Cap(30, 1), new Cap(15, 99)));
    public double telemetryPeriodS = 1.0;

    /** A policy from its JSON form (snake_case keys as in the manifest); unknown keys are ignored. */
    public static Policy fromJson(Map<String, Object> data) {
        Policy p = new Policy();
        if (data.containsKey("slo_ms")) {
            p.sloMs = data.get("slo_ms") == null ? null : number(data, "slo_ms");
        }
        if (data.containsKey("window")) {
            p.window = (int) number(data, "window");
        }
        if (data.containsKey("percentile")) {
            p.percentile = number(data, "percentile");
        }
        if (data.containsKey("up_margin")) {
            p.upMargin = number(data, "up_margin");
        }
        if (data.containsKey("dwell_s")) {
            p.dwellS = number(data, "dwell_s");
        }
        if (data.containsKey("thermal_caps")) {
            p.thermalCaps = caps(data.get("thermal_caps"));
        }
        if (data.containsKey("hysteresis_c")) {
            p.hysteresisC = number(data, "hysteresis_c");
        }
        if (data.containsKey("throttle_steps")) {
            p.throttleSteps = (int) number(data, "throttle_steps");
        }
        if (data.containsKey("battery_caps")) {
            p.batteryCaps = caps(data.get("battery_caps"));
        }
        if (data.containsKey("telemetry_period_s")) {
            p.telemetryPeriodS = number(data, "telemetry_period_s");
        }
        return p;
    }

    /** A policy from a JSON document such as {@code {"slo_ms": 33, "dwell_s": 2}}. */
    @SuppressWarnings("unchecked")
    public static Policy fromJson(String json) {
        Object data = Json.parse(json);
        if (!(data instanceof Map)) {
            throw new IllegalArgumentException("a policy is a JSON object, not " + json);
        }
        return fromJson((Map<String, Object>) data);
    }

    private static double number(Map<String, Object> data, String key) {
        Object v = data.get(key);
        if (!(v instanceof Number)) {
            throw new IllegalArgumentException("policy " + key + " is not a number: " + v);
        }
        return ((Number) v).doubleValue();
    }

    private static List<Cap> caps(Object value) {
        if (!(value instanceof List)) {
            throw new IllegalArgumentException("policy caps are a list of [limit, steps] pairs, not " + value);
        }
        List<Cap> caps = new ArrayList<>();
        for (Object pair : (List<?>) value) {
            if (!(pair instanceof List) || ((List<?>) pair).size() != 2
                    || !(((List<?>) pair).get(0) instanceof Number) || !(((List<?>) pair).get(1) instanceof Number)) {
                throw new IllegalArgumentException("policy cap " + pair + " is not a [limit, steps] pair");
            }
            List<?> p = (List<?>) pair;
            caps.add(new Cap(((Number) p.get(0)).doubleValue(), ((Number) p.get(1)).intValue()));
        }
        return caps;
    }
}
