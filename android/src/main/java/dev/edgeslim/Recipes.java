package dev.edgeslim;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/** Weight recipes: every constant of an exported width computed from the shared blob, as
 * {@code edgeslim.device.bundle.recipes.materialize} does, in the same float32 operations in the same order, so
 * the bytes are identical: the first {@code shape} entries of the source (or its {@code rows} / {@code cols}
 * runs), a batch norm folded in
 * ({@code w * gamma / sqrt(var + eps)}, {@code beta + (b - mean) * gamma / sqrt(var + eps)}), then the layout the
 * exporter stored the tensor in. */
public final class Recipes {
    private Recipes() {}

    /** The axis order of a stored layout ({@code null}: as in PyTorch). */
    static int[] permutation(String layout) {
        switch (layout) {
            case "native": return null;
            case "OHWI": return new int[] {0, 2, 3, 1};
            case "IHWO": return new int[] {1, 2, 3, 0};
            case "transposed": return new int[] {1, 0};
            default: throw new IllegalArgumentException("unknown layout " + layout);
        }
    }

    /** The constant {@code recipe} describes, in {@code layout}, as little-endian float32 bytes. */
    public static byte[] materialize(Manifest.Recipe recipe, Safetensors blob, String layout) {
        int[] shape = recipe.shape();
        float[] value = recipe.source() != null ? select(blob, recipe.source(), shape, recipe.rows(), recipe.cols())
                : new float[(int) Manifest.elements(shape)];
        Manifest.BatchNorm bn = recipe.bn();
        if (bn != null) {
            int channels = shape[0];
            float[] scale = scale(bn, blob, channels, recipe.rows());
            if (recipe.bias()) {
                float[] beta = vector(blob, bn.bias(), channels, recipe.rows());
                float[] mean = vector(blob, bn.mean(), channels, null);
                for (int o = 0; o < channels; o++) {
                    value[o] = beta[o] + (value[o] - mean[o]) * scale[o];
                }
            } else {
                int inner = value.length / channels;
                for (int o = 0; o < channels; o++) {
                    for (int i = o * inner; i < (o + 1) * inner; i++) {
                        value[i] = value[i] * scale[o];
                    }
                }
            }
        }
        int[] perm = permutation(layout);
        ByteBuffer out = ByteBuffer.allocate(value.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        if (perm == null) {
            out.asFloatBuffer().put(value);
        } else {
            permute(value, shape, perm, out.asFloatBuffer());
        }
        return out.array();
    }

    /** {@code gamma / sqrt(var + eps)} in float32 (a float sqrt rounded once: Math.sqrt in double is exact enough). */
    private static float[] scale(Manifest.BatchNorm bn, Safetensors blob, int channels, int[][] rows) {
        float[] gamma = vector(blob, bn.weight(), channels, rows);
        float[] var = vector(blob, bn.var(), channels, null);
        float eps = (float) bn.eps();
        float[] scale = new float[channels];
        for (int o = 0; o < channels; o++) {
            scale[o] = gamma[o] / (float) Math.sqrt(var[o] + eps);
        }
        return scale;
    }

    private static float[] vector(Safetensors blob, String name, int channels, int[][] rows) {
        return select(blob, name, new int[] {channels}, rows, null);
    }

    /** The source index of every entry along an axis: {@code 0 .. n-1}, or the runs laid end to end. */
    private static int[] indices(int[][] runs, int n) {
        int[] out = new int[n];
        int i = 0;
        for (int[] run : runs == null ? new int[][] {{0, n}} : runs) {
            for (int k = 0; k < run[1]; k++) {
                out[i++] = run[0] + k;
            }
        }
        return out;
    }

    /** The {@code shape} block of tensor {@code name} (its first entries, or the runs along axes 0 / 1),
     * row-major. */
    private static float[] select(Safetensors blob, String name, int[] shape, int[][] rowRuns, int[][] colRuns) {
        int[] full = blob.shape(name);
        FloatBuffer src = blob.floats(name);
        float[] out = new float[(int) Manifest.elements(shape)];
        int rank = shape.length;
        int[][] take = new int[rank][];
        for (int d = 0; d < rank; d++) {
            take[d] = indices(d == 0 ? rowRuns : d == 1 ? colRuns : null, shape[d]);
        }
        int last = shape[rank - 1];
        boolean contiguous = (rank == 1 ? rowRuns : rank == 2 ? colRuns : null) == null;  // along the last axis
        long[] strides = new long[rank];
        strides[rank - 1] = 1;
        for (int d = rank - 2; d >= 0; d--) {
            strides[d] = strides[d + 1] * full[d + 1];
        }
        int[] index = new int[rank];
        int rows = out.length / last;
        for (int row = 0; row < rows; row++) {
            long offset = 0;
            for (int d = 0; d < rank - 1; d++) {
                offset += take[d][index[d]] * strides[d];
            }
            if (contiguous) {
                src.position((int) offset);
                src.get(out, row * last, last);
            } else {
                for (int k = 0; k < last; k++) {
                    out[row * last + k] = src.get((int) offset + take[rank - 1][k]);
                }
            }
            for (int d = rank - 2; d >= 0; d--) {
                if (++index[d] < shape[d]) {
                    break;
                }
                index[d] = 0;
            }
        }
        return out;
    }

    /** Write {@code value} (row-major, {@code shape}) transposed by {@code perm} into {@code out}. */
    private static void permute(float[] value, int[] shape, int[] perm, FloatBuffer out) {
        int rank = shape.length;
        long[] strides = new long[rank];
        strides[rank - 1] = 1;
        for (int d = rank - 2; d >= 0; d--) {
            strides[d] = strides[d + 1] * shape[d + 1];
        }
        int[] outShape = new int[4];
        int[] step = new int[4];  // stride in ``value`` of each output axis; missing leading axes have extent 1
        java.util.Arrays.fill(outShape, 1);
        for (int i = 0; i < rank; i++) {
            outShape[4 - rank + i] = shape[perm[i]];
            step[4 - rank + i] = (int) strides[perm[i]];
        }
        float[] row = new float[outShape[3]];
        for (int a = 0; a < outShape[0]; a++) {
            for (int b = 0; b < outShape[1]; b++) {
                for (int c = 0; c < outShape[2]; c++) {
                    int base = a * step[0] + b * step[1] + c * step[2];
                    for (int d = 0; d < row.length; d++) {
                        row[d] = value[base + d * step[3]];
                    }
                    out.put(row);
                }
            }
        }
    }
}
