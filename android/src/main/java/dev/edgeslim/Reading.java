package dev.edgeslim;

/** What a telemetry source knows now; {@code null} fields are unknown. {@code temperatureC}: the hottest sensor;
 * {@code throttled}: the SoC is capping its clocks; {@code batteryPct}: 0–100; {@code charging}: on external
 * power; {@code powerW}: power drawn. */
public record Reading(Double temperatureC, Boolean throttled, Double batteryPct, Boolean charging, Double powerW) {

    /** Both readings in one: the hotter temperature, throttled if either is, other fields first-known. */
    public Reading merged(Reading other) {
        return new Reading(
                temperatureC == null ? other.temperatureC
                        : other.temperatureC == null ? temperatureC : Math.max(temperatureC, other.temperatureC),
                throttled == null ? other.throttled
                        : other.throttled == null ? throttled : Boolean.valueOf(throttled || other.throttled),
                batteryPct != null ? batteryPct : other.batteryPct,
                charging != null ? charging : other.charging,
                powerW != null ? powerW : other.powerW);
    }
}
