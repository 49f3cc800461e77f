package dev.edgeslim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RecipesTest {
    /** A safetensors file of float32 tensors, written as the format says (8-byte length, JSON header, data). */
    static Path writeSafetensors(Path file, Map<String, float[]> tensors, Map<String, int[]> shapes) throws Exception {
        StringBuilder header = new StringBuilder("{");
        long offset = 0;
        for (String name : tensors.keySet()) {
            long end = offset + 4L * tensors.get(name).length;
            header.append(header.length() > 1 ? "," : "").append('"').append(name).append("\":{\"dtype\":\"F32\","
                    + "\"shape\":").append(java.util.Arrays.toString(shapes.get(name)).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        byte[] json = header.append('}').toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(8 + json.length + (int) offset).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(json.length).put(json);
        for (float[] values : tensors.values()) {
            for (float v : values) {
                out.putFloat(v);
            }
        }
        Files.write(file, out.array());
        return file;
    }

    private static float[] floats(byte[] bytes) {
        float[] out = new float[bytes.length / 4];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
        return out;
    }

    private static Safetensors blob(Path dir) throws Exception {
        Map<String, float[]> tensors = new LinkedHashMap<>();
        Map<String, int[]> shapes = new LinkedHashMap<>();
        float[] w = new float[3 * 2 * 1 * 2];  // a conv weight O=3, I=2, H=1, W=2: value = its flat index
        for (int i = 0; i < w.length; i++) {
            w[i] = i;
        }
        tensors.put("conv.weight", w);
        shapes.put("conv.weight", new int[] {3, 2, 1, 2});
        tensors.put("bn.weight", new float[] {2f, 4f, 8f});
        shapes.put("bn.weight", new int[] {3});
        tensors.put("bn.bias", new float[] {1f, 1f, 1f});
        shapes.put("bn.bias", new int[] {3});
        tensors.put("bn.mean", new float[] {0.5f, 0f, 0f});
        shapes.put("bn.mean", new int[] {3});
        tensors.put("bn.var", new float[] {3f, 15f, 63f});
        shapes.put("bn.var", new int[] {3});
        return Safetensors.open(writeSafetensors(dir.resolve("w.safetensors"), tensors, shapes));
    }

    @Test
    void prefixSliceKeepsTheFirstChannelsOfEveryAxis(@TempDir Path dir) throws Exception {
        Manifest.Recipe recipe = new Manifest.Recipe("conv.weight", new int[] {2, 1, 1, 2}, null, false, null, null);
        assertArrayEquals(new float[] {0, 1, 4, 5}, floats(Recipes.materialize(recipe, blob(dir), "native")));
    }

    @Test
    void batchNormFoldsIntoWeightAndBiasInFloat32(@TempDir Path dir) throws Exception {
        Manifest.BatchNorm bn = new Manifest.BatchNorm("bn.weight", "bn.bias", "bn.mean", "bn.var", 1.0);
        Safetensors blob = blob(dir);
        // scale = gamma / sqrt(var + 1) = 2/2, 4/4 = 1, 1
        float[] weight = floats(Recipes.materialize(new Manifest.Recipe("conv.weight", new int[] {2, 2, 1, 2}, bn,
                false, null, null), blob, "native"));
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5, 6, 7}, weight);
        float[] bias = floats(Recipes.materialize(new Manifest.Recipe(null, new int[] {3}, bn, true, null, null), blob,
                "native"));
        assertArrayEquals(new float[] {1f + (0f - 0.5f) * 1f, 1f, 1f}, bias);
    }

    @Test
    void runsGatherTheSegmentsAConcatLeavesAlongRowsAndColumns(@TempDir Path dir) throws Exception {
        // rows 0 and 2, input channel 1: in[o][1][0][w] = o*4 + 2 + w
        Manifest.Recipe recipe = new Manifest.Recipe("conv.weight", new int[] {2, 1, 1, 2}, null, false,
                new int[][] {{0, 1}, {2, 1}}, new int[][] {{1, 1}});
        assertArrayEquals(new float[] {2, 3, 10, 11}, floats(Recipes.materialize(recipe, blob(dir), "native")));
    }

    @Test
    void layoutsTransposeAsTheExportersStoreThem(@TempDir Path dir) throws Exception {
        Manifest.Recipe recipe = new Manifest.Recipe("conv.weight", new int[] {3, 2, 1, 2}, null, false, null, null);
        // OHWI: out[o][h][w][i] = in[o][i][h][w] = o*4 + i*2 + w
        assertArrayEquals(new float[] {0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11},
                floats(Recipes.materialize(recipe, blob(dir), "OHWI")));
        // IHWO: out[i][h][w][o] = o*4 + i*2 + w
        assertArrayEquals(new float[] {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11},
                floats(Recipes.materialize(recipe, blob(dir), "IHWO")));
    }

    @Test
    void assembleFillsEveryHoleOfTheSkeleton(@TempDir Path dir) throws Exception {
        Manifest.Recipe recipe = new Manifest.Recipe("conv.weight", new int[] {1, 1, 1, 2}, null, false, null, null);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] skeleton = {9, 9, 7};
        long n = Skeleton.assemble(skeleton, List.of(new Manifest.Hole(2, 8, "t", "native")), Map.of("t", recipe),
                blob(dir), out);
        byte[] full = out.toByteArray();
        assertEquals(11, n);
        assertEquals(11, full.length);
        assertArrayEquals(new float[] {0, 1}, floats(java.util.Arrays.copyOfRange(full, 2, 10)));
        assertEquals(7, full[10]);
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> Skeleton.assemble(skeleton,
                List.of(new Manifest.Hole(9, 8, "t", "native")), Map.of("t", recipe), blob(dir),
                new ByteArrayOutputStream()));
        assertTrue(ex.getMessage().contains("does not fit"), ex.getMessage());
    }

    @Test
    void aDamagedBlobIsOneLineNamingIt(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("bad.safetensors");
        Files.write(file, new byte[] {(byte) 0xff, (byte) 0xff, 0, 0, 0, 0, 0, 0, '{', '}'});
        BundleException ex = assertThrows(BundleException.class, () -> Safetensors.open(file));
        assertTrue(ex.getMessage().startsWith(file.toString()) && ex.getMessage().contains("header length"),
                ex.getMessage());
    }
}
