package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class WidthControllerTest {
    private final double[] now = {0};
    private Reading reading;

    private WidthController controller(Policy policy) {
        return new WidthController(new double[] {1, 2, 3, 4}, policy, () -> reading, () -> now[0]);
    }

    private static Policy slo(double ms) {
        Policy p = Policy.fromJson("{\"slo_ms\": " + ms + ", \"window\": 8, \"dwell_s\": 1}");
        return p;
    }

    @Test
    void stepsDownAtOnceWhenP90ExceedsTheSlo() {
        WidthController c = controller(slo(10));
        assertEquals(3, c.rung());
        int rung = 3;
        for (int i = 0; i < 6; i++) {
            rung = c.step(20);
        }
        assertEquals(2, rung);
    }

    @Test
    void stepsUpOnlyAfterTheDwellAndWithMargin() {
        WidthController c = controller(slo(10));
        for (int i = 0; i < 6; i++) {
            c.step(20);
        }
        assertEquals(2, c.rung());
        for (int i = 0; i < 16; i++) {
            c.step(1);  // predicted next rung 1 × 4/3 × 1.15 ≤ 10, but the dwell is not over
        }
        assertEquals(2, c.rung());
        now[0] = 2;
        for (int i = 0; i < 8; i++) {
            c.step(1);
        }
        assertEquals(3, c.rung());
    }

    @Test
    void thermalCapsHoldUntilTheHysteresisIsPassed() {
        Policy p = new Policy();  // no SLO: the cap alone decides
        WidthController c = controller(p);
        reading = new Reading(81.0, false, null, true, null);
        assertEquals(1, c.step(1));  // 80 °C cap: 2 steps down
        reading = new Reading(78.0, false, null, true, null);
        now[0] = 1;
        assertEquals(1, c.step(1));  // 78 ≥ 80 − 3: still held
        reading = new Reading(76.5, false, null, true, null);
        now[0] = 2;
        assertEquals(2, c.step(1));  // below 77: only the 70 °C cap
        reading = new Reading(60.0, true, null, true, null);
        now[0] = 3;
        assertEquals(2, c.step(1));  // throttled: one step
    }

    @Test
    void batteryCapsApplyOnlyWhileDischarging() {
        WidthController c = controller(new Policy());
        reading = new Reading(null, null, 12.0, false, null);
        assertEquals(0, c.step(1));
        reading = new Reading(null, null, 12.0, true, null);
        now[0] = 1;
        assertEquals(3, c.step(1));
    }

    @Test
    void telemetryIsPolledAtMostOncePerPeriod() {
        int[] reads = {0};
        WidthController c = new WidthController(new double[] {1, 2}, new Policy(), () -> {
            reads[0]++;
            return null;
        }, () -> now[0]);
        for (int i = 0; i < 10; i++) {
            c.step(1);
        }
        now[0] = 1.0;
        c.step(1);
        assertEquals(2, reads[0]);
    }

    @Test
    void costsMustGrowWithTheRung() {
        assertThrows(IllegalArgumentException.class, () -> new WidthController(new double[] {2, 1}, new Policy(),
                null, () -> 0));
    }
}
