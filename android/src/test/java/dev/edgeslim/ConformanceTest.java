package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/** The Java controller against the Python one: each scenario (written by tests/test_android.py from a measured
 * profile and a shipped trace, with {@code edgeslim.device.simulate.frames}) holds every frame's time and latency at
 * every width and the rung Python's controller ran; Java replays the same closed loop — its own trace reader, its
 * own controller — and must run the same rung at every frame. */
@EnabledIfSystemProperty(named = "edgeslim.conformance", matches = ".+")
class ConformanceTest {
    @Test
    void javaControllerDecidesAsPythonAtEveryStep() throws Exception {
        List<Path> scenarios = new ArrayList<>();
        try (Stream<Path> files = Files.list(Paths.get(System.getProperty("edgeslim.conformance")))) {
            files.filter(p -> p.getFileName().toString().startsWith("controller-")).sorted().forEach(scenarios::add);
        }
        assertFalse(scenarios.isEmpty(), "no scenarios");
        long steps = 0;
        for (Path file : scenarios) {
            Map<?, ?> s = (Map<?, ?>) Json.parse(Files.readString(file));
            double[] costs = doubles((List<?>) s.get("costs"));
            double[] times = doubles((List<?>) s.get("times"));
            List<?> latency = (List<?>) s.get("latency");
            List<?> expected = (List<?>) s.get("rungs");
            @SuppressWarnings("unchecked")
            Policy policy = Policy.fromJson((Map<String, Object>) s.get("policy"));
            double[] now = {0};
            ReplayTelemetry trace = new ReplayTelemetry(Paths.get((String) s.get("trace")), () -> 0, false, 1);
            WidthController controller = new WidthController(costs, policy, () -> trace.at(now[0]), () -> now[0]);
            for (int k = 0; k < times.length; k++) {
                now[0] = times[k];
                int rung = controller.rung();
                assertEquals(((Number) expected.get(k)).intValue(), rung, file.getFileName() + ": frame " + k);
                controller.step(((Number) ((List<?>) latency.get(k)).get(rung)).doubleValue());
            }
            steps += times.length;
            System.out.println("conformance " + file.getFileName() + ": " + times.length + " steps identical");
        }
        System.out.println("conformance total: " + steps + " steps identical");
    }

    @Test
    void imageInputIsPythonsPreprocessing() throws Exception {
        Path file = Paths.get(System.getProperty("edgeslim.conformance"), "image-input.json");
        List<?> cases = (List<?>) Json.parse(Files.readString(file));
        assertFalse(cases.isEmpty(), "no image cases");
        for (Object item : cases) {
            Map<?, ?> c = (Map<?, ?>) item;
            double[] argb = doubles((List<?>) c.get("argb"));
            int[] pixels = new int[argb.length];
            for (int i = 0; i < pixels.length; i++) {
                pixels[i] = (int) (long) argb[i];
            }
            double[] shape = doubles((List<?>) c.get("shape"));
            double[] mean = doubles((List<?>) c.get("mean"));
            double[] std = doubles((List<?>) c.get("std"));
            float[] m = new float[mean.length];
            float[] s = new float[std.length];
            for (int i = 0; i < m.length; i++) {
                m[i] = (float) mean[i];
                s[i] = (float) std[i];
            }
            Manifest.Input input = new Manifest.Input("image", new int[] {1, (int) shape[1], (int) shape[2],
                (int) shape[3]}, m, s);
            float[] ours = ImageInput.fromArgb(pixels, ((Number) c.get("width")).intValue(),
                    ((Number) c.get("height")).intValue(), input, (String) c.get("layout"));
            double[] expected = doubles((List<?>) c.get("expected"));
            assertEquals(expected.length, ours.length);
            for (int i = 0; i < ours.length; i++) {
                assertEquals(expected[i], ours[i], 1e-6, c.get("layout") + " element " + i);
            }
        }
    }

    private static double[] doubles(List<?> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).doubleValue();
        }
        return out;
    }
}
