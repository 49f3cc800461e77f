package dev.edgeslim.android;

import android.content.Context;
import android.content.Intent;
import android.content.IntentFilter;
import android.os.BatteryManager;
import dev.edgeslim.Reading;
import dev.edgeslim.Telemetry;

/** Battery level, charging, battery temperature and power drawn as a {@link Telemetry} source. NOT COMPILED IN CI:
 * this folder needs the Android SDK. It only translates readings: the sticky ACTION_BATTERY_CHANGED broadcast gives
 * the temperature (tenths of °C) and voltage (mV); BatteryManager the level (%) and current (µA, sign varies by
 * vendor, so its magnitude is used). */
public final class BatteryTelemetry implements Telemetry {
    private final Context context;
    private final BatteryManager battery;

    public BatteryTelemetry(Context context) {
        this.context = context;
        this.battery = (BatteryManager) context.getSystemService(Context.BATTERY_SERVICE);
    }

    @Override
    public Reading read() {
        Intent status = context.registerReceiver(null, new IntentFilter(Intent.ACTION_BATTERY_CHANGED));
        if (status == null) {
            return null;
        }
        int tenths = status.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Integer.MIN_VALUE);
        int millivolts = status.getIntExtra(BatteryManager.EXTRA_VOLTAGE, 0);
        int microamps = battery.getIntProperty(BatteryManager.BATTERY_PROPERTY_CURRENT_NOW);
        Double temperature = tenths == Integer.MIN_VALUE ? null : tenths / 10.0;
        Double power = millivolts > 0 && microamps != Integer.MIN_VALUE
                ? Math.abs(microamps) * 1e-6 * millivolts * 1e-3 : null;
        return new Reading(temperature, null, (double) battery.getIntProperty(BatteryManager.BATTERY_PROPERTY_CAPACITY),
                battery.isCharging(), power);
    }
}
