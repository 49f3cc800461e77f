package dev.edgeslim.android;

import android.os.Build;
import android.os.PowerManager;
import dev.edgeslim.Reading;
import dev.edgeslim.Telemetry;

/** Android's thermal state as a {@link Telemetry} source (API 29+; headroom API 30+). NOT COMPILED IN CI: this folder
 * needs the Android SDK. It only translates readings: throttled from the thermal status (MODERATE and above: the
 * system is limiting performance) or a forecast headroom ≥ 1 (throttling within {@code forecastS} seconds). */
public final class ThermalTelemetry implements Telemetry {
    private final PowerManager power;
    private final int forecastS;

    public ThermalTelemetry(PowerManager power, int forecastS) {
        this.power = power;
        this.forecastS = forecastS;
    }

    @Override
    public Reading read() {
        boolean throttled = power.getCurrentThermalStatus() >= PowerManager.THERMAL_STATUS_MODERATE;
        if (Build.VERSION.SDK_INT >= 30) {
            float headroom = power.getThermalHeadroom(forecastS);  // NaN when unsupported or polled too often
            throttled |= !Float.isNaN(headroom) && headroom >= 1f;
        }
        return new Reading(null, throttled, null, null, null);
    }
}
