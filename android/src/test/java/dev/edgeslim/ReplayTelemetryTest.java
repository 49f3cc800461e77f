package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplayTelemetryTest {
    private final double[] now = {0};

    @Test
    void csvTraceIsReadBackAgainstTheClock(@TempDir Path dir) throws Exception {
        Path trace = Files.writeString(dir.resolve("t.csv"),
                "t,temperature_c,throttled,battery_pct,charging,power_w\n0,45.0,0,,1,3.0\n10,81.5,1,50,0,\n");
        ReplayTelemetry replay = new ReplayTelemetry(trace, () -> now[0], false, 1.0);
        assertEquals(new Reading(45.0, false, null, true, 3.0), replay.read());
        now[0] = 9.99;
        assertEquals(45.0, replay.read().temperatureC());
        now[0] = 10;
        assertEquals(new Reading(81.5, true, 50.0, false, null), replay.read());
        now[0] = 10.5;
        assertNull(replay.read());  // past the end, not looping
        ReplayTelemetry looping = new ReplayTelemetry(trace, () -> now[0], true, 1.0);
        assertEquals(45.0, looping.at(10.5).temperatureC());
    }

    @Test
    void jsonTraceHasTheSameColumns(@TempDir Path dir) throws Exception {
        Path trace = Files.writeString(dir.resolve("t.json"),
                "[{\"t\": 5, \"temperature_c\": 70}, {\"t\": 0, \"battery_pct\": 20, \"charging\": true}]");
        ReplayTelemetry replay = new ReplayTelemetry(trace, () -> now[0], false, 2.0);
        assertEquals(new Reading(null, null, 20.0, true, null), replay.read());
        now[0] = 2.5;  // × speed 2: trace time 5
        assertEquals(70.0, replay.read().temperatureC());
    }

    @Test
    void aFileThatIsNotATraceIsOneLineNamingIt(@TempDir Path dir) throws Exception {
        Path trace = Files.writeString(dir.resolve("t.csv"), "time,temp\n0,1\n");
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> new ReplayTelemetry(trace, () -> 0, false, 1));
        assertTrue(ex.getMessage().startsWith(trace.toString()) && ex.getMessage().contains("column 't'"),
                ex.getMessage());
    }
}
