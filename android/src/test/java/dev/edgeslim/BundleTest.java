package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/** Opening real bundles built by the Python side (tests/test_android.py passes {@code -Dedgeslim.bundle}), and
 * every way a bundle from elsewhere can be damaged. */
@EnabledIfSystemProperty(named = "edgeslim.bundle", matches = ".+")
class BundleTest {
    private static Path copy(Path dir) throws IOException {
        Path source = Paths.get(System.getProperty("edgeslim.bundle"));
        Path target = dir.resolve("bundle");
        try (Stream<Path> files = Files.walk(source)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Path to = target.resolve(source.relativize(file).toString());
                if (Files.isDirectory(file)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(file, to);
                }
            }
        }
        return target;
    }

    private static String message(Path bundle) {
        return assertThrows(BundleException.class, () -> Bundle.open(bundle).assembleAll(bundle.resolveSibling("out")))
                .getMessage();
    }

    @Test
    void opensAndAssemblesEveryBackendOnceCachedByItsSha256(@TempDir Path dir) throws Exception {
        Bundle bundle = Bundle.open(copy(dir));
        assertTrue(bundle.widths().size() >= 2);
        assertEquals(10, bundle.manifest().numClasses);  // the test bundles are digits runs
        assertTrue(bundle.widths().get(0).mflops() <= bundle.widths().get(1).mflops());
        String backend = bundle.backends().contains("tflite") ? "tflite" : bundle.backends().get(0);
        Path first = bundle.assembleCached(backend, dir.resolve("cache"));
        assertEquals(bundle.artifact(backend).bytes(), Files.size(first));
        assertTrue(first.getParent().getFileName().toString().equals(bundle.artifact(backend).sha256()
                .substring(0, 16)));
        long modified = Files.getLastModifiedTime(first).toMillis();
        Files.setLastModifiedTime(first, java.nio.file.attribute.FileTime.fromMillis(modified - 10_000));
        Path again = bundle.assembleCached(backend, dir.resolve("cache"));
        assertEquals(first, again);
        assertEquals(modified - 10_000, Files.getLastModifiedTime(again).toMillis());  // not assembled again
        assertEquals(bundle.manifest().policy.isEmpty() ? null : bundle.policy().sloMs,
                bundle.manifest().policy.get("slo_ms") == null ? null
                        : ((Number) bundle.manifest().policy.get("slo_ms")).doubleValue());
    }

    @Test
    void aMissingBundleOrManifestSaysWhatToDo(@TempDir Path dir) throws Exception {
        assertTrue(message(dir.resolve("nowhere")).contains("no such bundle directory"));
        Path bundle = copy(dir);
        Files.delete(bundle.resolve("manifest.json"));
        assertTrue(message(bundle).contains("not an edgeslim bundle (no manifest.json)"));
    }

    @Test
    void aTruncatedOrModifiedFileIsRefusedBeforeUse(@TempDir Path dir) throws Exception {
        Path bundle = copy(dir);
        Path blob = bundle.resolve("weights.safetensors");
        byte[] data = Files.readAllBytes(blob);
        Files.write(blob, java.util.Arrays.copyOf(data, data.length - 4));
        String m = message(bundle);
        assertTrue(m.startsWith(blob.toString()) && m.contains("truncated or modified"), m);
        data[data.length - 1] ^= 1;
        Files.write(blob, data);
        m = message(bundle);
        assertTrue(m.contains("sha256 does not match"), m);
    }

    @Test
    void aManifestThatLiesIsOneLine(@TempDir Path dir) throws Exception {
        Path bundle = copy(dir);
        Path manifest = bundle.resolve("manifest.json");
        String text = Files.readString(manifest);
        for (String[] edit : List.of(new String[] {"\"weights.safetensors\"", "\"../weights.safetensors\"",
                "not a plain file name"}, new String[] {"edgeslim-bundle/1", "edgeslim-bundle/9", "schema"},
                new String[] {"\"holes\": [", "\"holes\": [[0, 4, \"nope\", \"native\"], ", "lacks"})) {
            Files.writeString(manifest, text.replaceFirst(java.util.regex.Pattern.quote(edit[0]), edit[1]));
            String m = message(bundle);
            assertTrue(m.contains(edit[2]) && !m.contains("\n"), edit[0] + " → " + m);
        }
        Files.writeString(manifest, "[1, 2]");
        assertTrue(message(bundle).contains("not a JSON object"));
        Files.writeString(manifest, "{\"schema\": " + "[".repeat(10_000));
        assertTrue(message(bundle).contains("not valid JSON"));
    }

    @Test
    void aLinkInsteadOfAFileIsRefused(@TempDir Path dir) throws Exception {
        Path bundle = copy(dir);
        Path blob = bundle.resolve("weights.safetensors");
        Path elsewhere = Files.move(blob, dir.resolve("elsewhere.safetensors"));
        Files.createSymbolicLink(blob, elsewhere);
        String m = message(bundle);
        assertTrue(m.contains("a link or outside the bundle"), m);
    }

    @Test
    void aDamagedSkeletonIsCaughtByItsSha256(@TempDir Path dir) throws Exception {
        Path bundle = copy(dir);
        Bundle opened = Bundle.open(bundle);
        Manifest.Artifact artifact = opened.artifact(opened.backends().get(0));
        Path stored = bundle.resolve(artifact.storedAs());
        if (Files.isDirectory(stored)) {
            return;
        }
        byte[] data = Files.readAllBytes(stored);
        data[data.length / 2] ^= 0x55;
        Files.write(stored, data, StandardOpenOption.TRUNCATE_EXISTING);
        String m = message(bundle);
        assertTrue(m.startsWith(stored.toString()) && m.contains("sha256"), m);
        assertTrue(Files.notExists(bundle.resolveSibling("out").resolve(artifact.file())));
    }
}
