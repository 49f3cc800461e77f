package dev.edgeslim;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;

/** A recorded telemetry trace read back against a clock, as {@code edgeslim.device.telemetry.Replay}: CSV with a
 * header, or a JSON list of objects; column {@code t} in seconds plus any of temperature_c, throttled, battery_pct,
 * charging, power_w (empty = unknown). The reading at time t is the trace's latest sample at or before t (the first
 * before it); after the end, none unless {@code loop}. */
public final class ReplayTelemetry implements Telemetry {
    /** One sample of a trace. */
    public record Sample(double t, Reading reading) {}

    private static final List<String> COLUMNS = Arrays.asList("temperature_c", "throttled", "battery_pct", "charging",
            "power_w");
    private final List<Sample> samples;
    private final double[] times;
    private final DoubleSupplier clock;
    private final boolean loop;
    private final double speed;
    private final double start;

    /** Replay {@code trace} from now on {@code clock} (seconds), {@code speed} trace seconds per second. */
    public ReplayTelemetry(Path trace, DoubleSupplier clock, boolean loop, double speed) throws IOException {
        this.samples = load(trace);
        this.times = samples.stream().mapToDouble(Sample::t).toArray();
        this.clock = clock;
        this.loop = loop;
        this.speed = speed;
        this.start = clock.getAsDouble();
    }

    /** The samples of a trace file, sorted by time; {@link IllegalArgumentException} naming the file if it is not
     * a trace. */
    public static List<Sample> load(Path trace) throws IOException {
        String text = new String(Files.readAllBytes(trace), StandardCharsets.UTF_8);
        List<Sample> samples = new ArrayList<>();
        try {
            if (trace.getFileName().toString().endsWith(".json")) {
                Object rows = Json.parse(text);
                if (!(rows instanceof List)) {
                    throw new IllegalArgumentException("not a JSON list of objects");
                }
                for (Object row : (List<?>) rows) {
                    if (!(row instanceof Map)) {
                        throw new IllegalArgumentException("not a JSON list of objects");
                    }
                    Map<?, ?> r = (Map<?, ?>) row;
                    samples.add(sample(column -> r.get(column) == null ? null : String.valueOf(r.get(column))));
                }
            } else {
                String[] lines = text.split("\r?\n");
                List<String> header = Arrays.asList(lines[0].trim().split(",", -1));
                for (int i = 1; i < lines.length; i++) {
                    if (lines[i].isEmpty()) {
                        continue;
                    }
                    String[] cells = lines[i].split(",", -1);
                    samples.add(sample(column -> {
                        int k = header.indexOf(column);
                        return k >= 0 && k < cells.length ? cells[k] : null;
                    }));
                }
            }
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(trace + ": not a telemetry trace (" + ex.getMessage() + "); expected a "
                    + "column 't' (seconds) and any of " + String.join(", ", COLUMNS));
        }
        if (samples.isEmpty()) {
            throw new IllegalArgumentException(trace + ": the trace has no samples");
        }
        samples.sort(Comparator.comparingDouble(Sample::t));
        return samples;
    }

    private static Sample sample(java.util.function.Function<String, String> cell) {
        String t = cell.apply("t");
        if (t == null) {
            throw new IllegalArgumentException("a row has no 't'");
        }
        return new Sample(Double.parseDouble(t.trim()), new Reading(number(cell.apply("temperature_c")),
                flag(cell.apply("throttled")), number(cell.apply("battery_pct")), flag(cell.apply("charging")),
                number(cell.apply("power_w"))));
    }

    private static Double number(String text) {
        return text == null || text.isEmpty() ? null : Double.valueOf(text.trim());
    }

    private static Boolean flag(String text) {
        if (text == null || text.isEmpty()) {
            return null;
        }
        String v = text.trim().toLowerCase();
        return v.equals("1") || v.equals("true") || v.equals("yes");
    }

    /** The reading at trace time {@code t} seconds. */
    public Reading at(double t) {
        double duration = times[times.length - 1];
        if (t > duration) {
            if (!loop || duration <= 0) {
                return null;
            }
            t %= duration;
        }
        int lo = 0;
        int hi = times.length;  // bisect_right: the first index whose time is > t
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (t < times[mid]) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        return samples.get(Math.max(0, lo - 1)).reading();
    }

    @Override
    public Reading read() {
        return at((clock.getAsDouble() - start) * speed);
    }
}
