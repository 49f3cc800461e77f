package dev.edgeslim;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header
 * ({@code name → {dtype, shape, data_offsets}}), then the raw little-endian tensor data. Only float32 tensors are
 * read; every offset is checked against the file before use. */
public final class Safetensors {
    static final int MAX_HEADER_BYTES = 64 << 20;

    /** One float32 tensor: its shape, and where its data lies in the data section. */
    public record Tensor(int[] shape, long begin, long end) {}

    private final ByteBuffer data;
    private final Map<String, Tensor> tensors;

    private Safetensors(ByteBuffer data, Map<String, Tensor> tensors) {
        this.data = data;
        this.tensors = tensors;
    }

    /** Map and check {@code file}; a damaged file is one {@link BundleException} line naming it. */
    public static Safetensors open(Path file) throws BundleException {
        ByteBuffer whole;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() > Integer.MAX_VALUE) {
                throw new BundleException(file + ": a weight blob over 2 GiB; this reader maps it whole");
            }
            whole = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size()).order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new BundleException(file + ": cannot read the weight blob (" + ex.getMessage() + ")");
        }
        long size = whole.capacity();
        long length = size >= 8 ? whole.getLong(0) : -1;
        if (length <= 0 || length > Math.min(MAX_HEADER_BYTES, size - 8)) {
            throw new BundleException(file + ": not a safetensors weight blob (header length " + length
                    + "); rebuild the bundle");
        }
        byte[] header = new byte[(int) length];
        ByteBuffer head = whole.duplicate();
        head.position(8);
        head.get(header);
        Object parsed;
        try {
            parsed = Json.parse(new String(header, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException ex) {
            throw new BundleException(file + ": damaged weight blob header (" + ex.getMessage() + "); rebuild the "
                    + "bundle");
        }
        if (!(parsed instanceof Map)) {
            throw new BundleException(file + ": damaged weight blob header; rebuild the bundle");
        }
        long dataBytes = size - 8 - length;
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) parsed).entrySet()) {
            if ("__metadata__".equals(e.getKey()) || !(e.getValue() instanceof Map)) {
                continue;
            }
            Map<?, ?> entry = (Map<?, ?>) e.getValue();
            if (!"F32".equals(entry.get("dtype"))) {
                continue;
            }
            Tensor tensor = tensor(entry, dataBytes);
            if (tensor == null) {
                throw new BundleException(file + ": tensor '" + e.getKey() + "' has a bad shape or data offsets; "
                        + "rebuild the bundle");
            }
            tensors.put((String) e.getKey(), tensor);
        }
        ByteBuffer section = slice(whole, 8 + length, dataBytes);
        return new Safetensors(section, Collections.unmodifiableMap(tensors));
    }

    private static Tensor tensor(Map<?, ?> entry, long dataBytes) {
        if (!(entry.get("shape") instanceof List) || !(entry.get("data_offsets") instanceof List)) {
            return null;
        }
        List<?> dims = (List<?>) entry.get("shape");
        List<?> offsets = (List<?>) entry.get("data_offsets");
        int[] shape = new int[dims.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            if (!(dims.get(i) instanceof Long) || (Long) dims.get(i) < 0 || (Long) dims.get(i) > Integer.MAX_VALUE) {
                return null;
            }
            shape[i] = ((Long) dims.get(i)).intValue();
            elements *= shape[i];
        }
        if (offsets.size() != 2 || !(offsets.get(0) instanceof Long) || !(offsets.get(1) instanceof Long)) {
            return null;
        }
        long begin = (Long) offsets.get(0);
        long end = (Long) offsets.get(1);
        if (begin < 0 || end > dataBytes || end - begin != 4 * elements) {
            return null;
        }
        return new Tensor(shape, begin, end);
    }

    /** The float32 tensors of the file, by name. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Tensor {@code name}'s shape, or null when the blob has no float32 tensor of that name. */
    public int[] shape(String name) {
        Tensor t = tensors.get(name);
        return t == null ? null : t.shape().clone();
    }

    /** A read-only view of tensor {@code name}'s data (row-major, as stored). */
    public FloatBuffer floats(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("the weight blob has no float32 tensor '" + name + "'");
        }
        return slice(data, t.begin(), t.end() - t.begin()).asFloatBuffer();
    }

    /** {@code length} bytes of {@code buffer} from {@code offset}, little-endian (Java 8 / Android API 26 calls). */
    private static ByteBuffer slice(ByteBuffer buffer, long offset, long length) {
        ByteBuffer view = buffer.duplicate();
        view.position((int) offset);
        view.limit((int) (offset + length));
        return view.slice().order(ByteOrder.LITTLE_ENDIAN);
    }
}
