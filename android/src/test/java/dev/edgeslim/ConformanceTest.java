package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    /** The gate and cascade routing of a gated bundle's samples (written by tests/test_android.py with the Python
     * runtime): Java must run the same width for every input, head, escalated share and cap. */
    @Test
    void javaGateRoutesAsPythonAtEveryInput() throws Exception {
        Map<?, ?> cases = (Map<?, ?>) Json.parse(Files.readString(Paths.get(
                System.getProperty("edgeslim.conformance"), "gate-routing.json")));
        GateRouter router = GateRouter.of(Bundle.open(Paths.get((String) cases.get("bundle"))).manifest());
        double[] shares = doubles((List<?>) cases.get("shares"));
        List<?> thresholds = (List<?>) cases.get("thresholds");
        List<?> inputs = (List<?>) cases.get("inputs");
        assertFalse(inputs.isEmpty(), "no gate inputs");
        long decisions = 0;
        for (int k = 0; k < inputs.size(); k++) {
            Map<?, ?> input = (Map<?, ?>) inputs.get(k);
            float[] scores = floats((List<?>) input.get("scores"));
            float[] narrow = floats((List<?>) input.get("narrow"));
            assertEquals(((Number) input.get("top")).doubleValue(), GateRouter.topProbability(narrow), 1e-6);
            for (String head : router.heads()) {
                router.setHead(head);
                List<?> expected = (List<?>) ((Map<?, ?>) input.get("gate")).get(head);
                for (int cap = 0; cap < router.widths().size(); cap++) {
                    assertEquals(((Number) expected.get(cap)).intValue(), router.pick(scores, cap),
                            "input " + k + ", head " + head + ", cap " + cap);
                    decisions++;
                }
            }
            for (int s = 0; s < shares.length; s++) {
                router.setEscalate(shares[s]);
                Object threshold = thresholds.get(s);
                assertEquals(threshold == null ? Double.POSITIVE_INFINITY : ((Number) threshold).doubleValue(),
                        router.threshold(), 1e-12, "threshold for share " + shares[s]);
                List<?> expected = (List<?>) ((List<?>) input.get("cascade")).get(s);
                for (int cap = 0; cap < router.widths().size(); cap++) {
                    int width = router.escalates(narrow, cap) ? cap : 0;
                    assertEquals(((Number) expected.get(cap)).intValue(), width,
                            "input " + k + ", share " + shares[s] + ", cap " + cap);
                    decisions++;
                }
            }
        }
        System.out.println("gate routing: " + decisions + " decisions identical");
    }

    @Test
    void aGateThatLiesOrABadRoutingArgumentIsOneLine() throws Exception {
        Map<?, ?> cases = (Map<?, ?>) Json.parse(Files.readString(Paths.get(
                System.getProperty("edgeslim.conformance"), "gate-routing.json")));
        String text = Files.readString(Paths.get((String) cases.get("bundle"), "manifest.json"));
        Manifest.Gate gate = Manifest.parse(text, "manifest.json").gate;
        for (String[] edit : List.of(
                new String[] {"\"default\": \"" + gate.defaultHead() + "\"", "\"default\": \"nope\"",
                    "is not one of its heads"},
                new String[] {"(\"widths\": \\[\\s*)\"" + gate.widths().get(0) + "\"", "$1\"w999\"",
                    "are not the bundle's widths"},
                new String[] {"(\"thresholds\": \\[\\s*)[0-9.e-]+", "$10.999", "shares must rise"},
                new String[] {"(\"features_shape\": \\[\\s*)1", "$12", "is not batch 1"})) {
            String edited = edit[0].startsWith("(") ? text.replaceFirst(edit[0], edit[1])
                    : text.replace(edit[0], edit[1]);
            assertFalse(edited.equals(text), edit[0]);
            String m = assertThrows(BundleException.class, () -> Manifest.parse(edited, "manifest.json"))
                    .getMessage();
            assertTrue(m.startsWith("manifest.json: ") && m.contains(edit[2]) && !m.contains("\n"), m);
        }
        GateRouter router = GateRouter.of(Manifest.parse(text, "manifest.json"));
        float[] scores = new float[router.heads().size() * router.widths().size()];
        for (String[] call : List.of(new String[] {"head", "use one of"}, new String[] {"share", "in [0, 1]"},
                new String[] {"scores", "head scores of 3 values"}, new String[] {"cap", "cap 99"})) {
            String m = assertThrows(IllegalArgumentException.class, () -> {
                switch (call[0]) {
                    case "head" -> router.setHead("nope");
                    case "share" -> router.setEscalate(1.5);
                    case "scores" -> router.pick(new float[3], 0);
                    default -> router.pick(scores, 99);
                }
            }).getMessage();
            assertTrue(m.contains(call[1]) && !m.contains("\n"), m);
        }
        Manifest plain = Bundle.open(Paths.get(System.getProperty("edgeslim.bundle"))).manifest();
        String m = assertThrows(IllegalArgumentException.class, () -> GateRouter.of(plain)).getMessage();
        assertTrue(m.contains("has no gate"), m);
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

    private static float[] floats(List<?> values) {
        float[] out = new float[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).floatValue();
        }
        return out;
    }

    private static double[] doubles(List<?> values) {
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) values.get(i)).doubleValue();
        }
        return out;
    }
}
