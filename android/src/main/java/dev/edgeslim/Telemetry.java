package dev.edgeslim;

import java.util.List;

/** A source of telemetry readings for the {@link WidthController}: a replayed trace ({@link ReplayTelemetry}) or,
 * in an app, the adapters of {@code src/android/} that translate PowerManager and BatteryManager readings. */
public interface Telemetry {
    /** The reading now, or {@code null} when the source knows nothing. */
    Reading read();

    /** Several sources read as one (merged, {@link Reading#merged}); a source that throws counts as unavailable. */
    static Telemetry combined(List<Telemetry> sources) {
        return () -> {
            Reading combined = null;
            for (Telemetry source : sources) {
                Reading reading;
                try {
                    reading = source.read();
                } catch (RuntimeException ex) {  // a source must never break the control loop
                    reading = null;
                }
                if (reading != null) {
                    combined = combined == null ? reading : combined.merged(reading);
                }
            }
            return combined;
        };
    }
}
