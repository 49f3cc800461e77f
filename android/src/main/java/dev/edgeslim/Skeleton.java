package dev.edgeslim;

import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;

/** Artifacts stored without their weights: the skeleton plus the holes the weights fill, as
 * {@code edgeslim.device.bundle.skeleton}. {@link #assemble} streams the full artifact, so the device holds the
 * skeleton and one tensor at a time, never the whole artifact. */
public final class Skeleton {
    private Skeleton() {}

    /** Write {@code skeleton} with every hole filled from {@code blob} to {@code out}; returns the bytes written.
     * {@link IllegalArgumentException} if they disagree. */
    public static long assemble(byte[] skeleton, List<Manifest.Hole> holes, Map<String, Manifest.Recipe> recipes,
                                Safetensors blob, OutputStream out) throws IOException {
        long written = 0;
        int cursor = 0;
        for (Manifest.Hole hole : holes) {
            long gap = hole.offset() - written;
            if (gap < 0 || cursor + gap > skeleton.length) {
                throw new IllegalArgumentException("hole at offset " + hole.offset() + " does not fit the skeleton");
            }
            out.write(skeleton, cursor, (int) gap);
            cursor += (int) gap;
            written += gap;
            byte[] tensor = Recipes.materialize(recipes.get(hole.tensor()), blob, hole.layout());
            if (tensor.length != hole.length()) {
                throw new IllegalArgumentException("tensor " + hole.tensor() + " has " + tensor.length
                        + " bytes, its hole " + hole.length());
            }
            out.write(tensor);
            written += tensor.length;
        }
        out.write(skeleton, cursor, skeleton.length - cursor);
        return written + skeleton.length - cursor;
    }
}
