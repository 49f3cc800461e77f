package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void parsesNestedValuesNumbersAndEscapes() {
        Object value = Json.parse(" {\"a\": [1, -2.5e-3, true, null], \"s\": \"x\\\"\\u00e9\\n\", \"big\": 1e400} ");
        Map<?, ?> map = (Map<?, ?>) value;
        List<?> a = (List<?>) map.get("a");
        assertEquals(1L, a.get(0));
        assertEquals(-2.5e-3, a.get(1));
        assertEquals(Boolean.TRUE, a.get(2));
        assertNull(a.get(3));
        assertEquals("x\"é\n", map.get("s"));
        assertEquals(Double.POSITIVE_INFINITY, map.get("big"));
        assertEquals(List.of("a", "s", "big"), List.copyOf(map.keySet()));  // insertion order kept
    }

    @Test
    void doublesRoundTripAsPythonWritesThem() {
        assertEquals(0.1 + 0.2, ((Number) Json.parse("0.30000000000000004")).doubleValue());
        assertEquals(1e-05, ((Number) Json.parse("1e-05")).doubleValue());
    }

    @Test
    void rejectsWhatIsNotJson() {
        for (String bad : new String[] {"{\"a\": 1,}", "[1 2]", "{\"a\" 1}", "tru", "\"open", "1 2", "-", "{'a': 1}",
                "[1e]"}) {
            IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Json.parse(bad), bad);
            assertTrue(ex.getMessage().contains("at character"), ex.getMessage());
        }
    }

    @Test
    void boundsNesting() {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Json.parse(deep));
        assertTrue(ex.getMessage().contains("nested deeper"), ex.getMessage());
    }
}
