package dev.edgeslim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** A bundle's {@code manifest.json} (schema {@code edgeslim-bundle/1}), read into typed records and checked before
 * any of it is used: plain file names inside the bundle, bounded sizes, holes in order and of the size of their
 * recipe. The Python side's full schema is {@code edgeslim.device.bundle.schema}. */
public final class Manifest {
    public static final String SCHEMA = "edgeslim-bundle/1";
    static final long MAX_ARTIFACT_BYTES = 1L << 34;
    private static final Pattern FILE_NAME = Pattern.compile("^[A-Za-z0-9_][A-Za-z0-9._-]{0,254}$");
    private static final Pattern SHA256 = Pattern.compile("^[0-9a-f]{64}$");
    private static final List<String> WEIGHT_LAYOUTS = java.util.Arrays.asList("native", "OHWI", "IHWO", "transposed");

    /** A batch norm folded into a weight or bias for one width: blob tensor names and epsilon. */
    public record BatchNorm(String weight, String bias, String mean, String var, double eps) {}

    /** How one constant is computed from the blob: the first {@code shape} entries of {@code source}, BN folded. */
    /** A weight recipe; {@code rows} / {@code cols} ({@code null}: a prefix) are the {@code [start, length]} runs
     * taken along axis 0 / 1. */
    public record Recipe(String source, int[] shape, BatchNorm bn, boolean bias, int[][] rows, int[][] cols) {
        /** How far into the source axis {@code axis} reads. */
        public int reach(int axis) {
            int[][] runs = axis == 0 ? rows : axis == 1 ? cols : null;
            return runs == null ? shape[axis] : runs[runs.length - 1][0] + runs[runs.length - 1][1];
        }
    }

    /** {@code length} bytes at {@code offset} of the full artifact are {@code tensor} materialized in {@code layout}. */
    public record Hole(long offset, int length, String tensor, String layout) {}

    /** An entry's input name and output names (e.g. {@code image} → {@code logits}). */
    public record EntryIO(String input, List<String> outputs) {}

    /** One backend's artifact: how it is stored, its size and sha256, its holes, entries and input layout. */
    public record Artifact(String backend, String file, String storedAs, String precision, List<String> entries,
                           String sha256, String storedSha256, long bytes, long storedBytes, String compression,
                           List<Hole> holes, String layout, Map<String, EntryIO> io) {
        /** Stored as a zlib skeleton with holes (ExecuTorch, TFLite) rather than whole (Core ML). */
        public boolean isSkeleton() {
            return "zlib".equals(compression);
        }
    }

    /** One width (sub-network): its name, cost and measured accuracy. */
    public record Width(String name, double mflops, long params, Double top1) {}

    /** The image input: NCHW shape, and the mean/std it is standardized with (per channel, after scaling to [0, 1]). */
    public record Input(String name, int[] shape, float[] mean, float[] std) {}

    /** A DS-Net++ bundle's gate: the {@code entry} that runs the shared first layers and the width heads (outputs:
     * the features every width's remainder takes, of {@code featuresShape}, and the head scores, heads × widths),
     * the {@code widths} it routes among (narrowest first), its {@code heads}, the {@code defaultHead}, and the
     * cascade's calibration (null when the run predates it). {@link GateRouter} routes with it. */
    public record Gate(String entry, List<String> widths, List<String> heads, String defaultHead, int[] featuresShape,
                       Cascade cascade) {}

    /** Escalating the share {@code shares[i]} of inputs takes the top-probability threshold {@code thresholds[i]};
     * {@code defaultShare} is the bundle's share. */
    public record Cascade(double[] shares, double[] thresholds, double defaultShare) {}

    public final String modelName;
    public final int numClasses;
    public final Input input;
    public final List<Width> widths;
    public final Map<String, Artifact> artifacts;
    public final Map<String, Recipe> tensors;
    public final String blobFile;
    public final String blobSha256;
    public final long blobBytes;
    public final Map<String, Object> policy;
    public final Integer threads;
    public final List<String> classes;
    /** The gate of a DS-Net++ bundle; null for a bundle without one. */
    public final Gate gate;

    private final String file;

    private Manifest(Map<String, Object> raw, String file) throws BundleException {
        this.file = file;
        Object schema = raw.get("schema");
        if (!SCHEMA.equals(schema)) {
            throw new BundleException(file + ": not an " + SCHEMA + " manifest (schema: " + schema
                    + "); rebuild the bundle or upgrade the edgeslim library");
        }
        Map<String, Object> model = map(raw, "model");
        modelName = string(model, "name");
        numClasses = (int) number(model, "num_classes");
        Map<String, Object> in = map(raw, "input");
        int[] shape = dims(in, "shape", 4, 4);
        if (shape[0] != 1) {
            throw bad("input shape must be batch 1");
        }
        Map<String, Object> prep = in.get("preprocessing") instanceof Map ? map(in, "preprocessing") : Collections.emptyMap();
        input = new Input(string(in, "name"), shape, floats(prep, "mean", shape[1], 0f),
                floats(prep, "std", shape[1], 1f));
        List<Width> ws = new ArrayList<>();
        for (Object w : list(raw, "widths")) {
            Map<String, Object> width = asMap(w, "widths[]");
            Object top1 = width.get("top1");
            ws.add(new Width(string(width, "name"), number(width, "mflops"), (long) number(width, "params"),
                    top1 instanceof Number ? ((Number) top1).doubleValue() : null));
        }
        if (ws.isEmpty()) {
            throw bad("no widths");
        }
        widths = Collections.unmodifiableList(ws);
        Map<String, Object> blob = map(raw, "blob");
        blobFile = fileName(blob, "file");
        blobSha256 = sha(blob, "sha256");
        blobBytes = size(blob, "bytes");
        Map<String, Recipe> recipes = new LinkedHashMap<>();
        if (raw.get("tensors") != null) {
            for (Map.Entry<String, Object> e : map(raw, "tensors").entrySet()) {
                recipes.put(e.getKey(), recipe(asMap(e.getValue(), "tensors." + e.getKey()), e.getKey()));
            }
        }
        tensors = Collections.unmodifiableMap(recipes);
        Map<String, Artifact> arts = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : map(raw, "artifacts").entrySet()) {
            arts.put(e.getKey(), artifact(e.getKey(), asMap(e.getValue(), "artifacts." + e.getKey())));
        }
        if (arts.isEmpty()) {
            throw bad("no artifacts");
        }
        artifacts = Collections.unmodifiableMap(arts);
        policy = raw.get("policy") instanceof Map ? map(raw, "policy") : Collections.emptyMap();
        Map<String, Object> target = raw.get("target") instanceof Map ? map(raw, "target") : Collections.emptyMap();
        threads = target.get("threads") instanceof Number ? ((Number) target.get("threads")).intValue() : null;
        List<String> names = new ArrayList<>();
        if (raw.get("classes") instanceof List) {
            for (Object c : list(raw, "classes")) {
                names.add(String.valueOf(c));
            }
        }
        classes = Collections.unmodifiableList(names);
        gate = raw.get("gate") == null ? null : gate(map(raw, "gate"));
    }

    /** Parse and check {@code json}, the text of the manifest file {@code file} (named in error messages). */
    public static Manifest parse(String json, String file) throws BundleException {
        Object raw;
        try {
            raw = Json.parse(json);
        } catch (IllegalArgumentException ex) {
            throw new BundleException(file + ": not valid JSON (" + ex.getMessage() + "); the bundle is corrupt, "
                    + "rebuild it");
        }
        if (!(raw instanceof Map)) {
            throw new BundleException(file + ": not an " + SCHEMA + " manifest (not a JSON object)");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> map = (Map<String, Object>) raw;
        return new Manifest(map, file);
    }

    private Gate gate(Map<String, Object> g) throws BundleException {
        List<String> names = widths.stream().map(Width::name).toList();
        String entry = string(g, "entry");
        List<String> ladder = new ArrayList<>();
        for (Object w : list(g, "widths")) {
            ladder.add(cast(w, String.class, "gate width"));
        }
        if (ladder.isEmpty() || new HashSet<>(ladder).size() != ladder.size() || !names.containsAll(ladder)
                || names.contains(entry)) {
            throw bad("gate widths " + ladder + " are not the bundle's widths " + names);
        }
        List<String> heads = new ArrayList<>();
        for (Object h : list(g, "heads")) {
            heads.add(string(asMap(h, "gate heads[]"), "name"));
        }
        String defaultHead = string(g, "default");
        if (heads.isEmpty() || new HashSet<>(heads).size() != heads.size() || !heads.contains(defaultHead)) {
            throw bad("default gate head '" + defaultHead + "' is not one of its heads " + heads);
        }
        int[] features = dims(g, "features_shape", 4, 4);
        if (features[0] != 1) {
            throw bad("gate features shape " + java.util.Arrays.toString(features) + " is not batch 1");
        }
        Cascade cascade = null;
        if (g.get("cascade") != null) {
            Map<String, Object> c = map(g, "cascade");
            double[] shares = shares(c, "shares");
            double[] thresholds = shares(c, "thresholds");
            boolean ordered = shares.length == thresholds.length;
            for (int i = 1; ordered && i < shares.length; i++) {
                ordered = shares[i - 1] < shares[i] && thresholds[i - 1] <= thresholds[i];
            }
            double share = number(c, "default");
            if (!ordered || !(share >= 0 && share <= 1)) {
                throw bad("gate cascade: shares must rise, with one non-decreasing threshold each, and its default "
                        + "share be in [0, 1]");
            }
            cascade = new Cascade(shares, thresholds, share);
        }
        return new Gate(entry, Collections.unmodifiableList(ladder), Collections.unmodifiableList(heads),
                defaultHead, features, cascade);
    }

    /** 1 to 100 numbers in [0, 1]. */
    private double[] shares(Map<String, Object> m, String key) throws BundleException {
        List<?> values = list(m, key);
        if (values.isEmpty() || values.size() > 100) {
            throw bad("gate cascade " + key + " has " + values.size() + " values");
        }
        double[] out = new double[values.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = cast(values.get(i), Number.class, "gate cascade " + key).doubleValue();
            if (!(out[i] >= 0 && out[i] <= 1)) {
                throw bad("gate cascade " + key + " " + values + " are not in [0, 1]");
            }
        }
        return out;
    }

    private Recipe recipe(Map<String, Object> r, String key) throws BundleException {
        int[] shape = dims(r, "shape", 1, 4);
        BatchNorm bn = null;
        if (r.get("bn") != null) {
            Map<String, Object> b = map(r, "bn");
            double eps = number(b, "eps");
            if (!(eps > 0 && eps <= 1)) {
                throw bad("tensor '" + key + "' has batch norm eps " + eps);
            }
            bn = new BatchNorm(string(b, "weight"), string(b, "bias"), string(b, "mean"), string(b, "var"), eps);
        }
        Object source = r.get("source");
        if (source != null && !(source instanceof String)) {
            throw bad("tensors." + key + ".source is not a name");
        }
        return new Recipe((String) source, shape, bn, Boolean.TRUE.equals(r.get("bias")),
                runs(r, key, "rows", shape, 0), runs(r, key, "cols", shape, 1));
    }

    /** Ascending, non-overlapping {@code [start, length]} runs along {@code axis} that add up to its size. */
    private int[][] runs(Map<String, Object> r, String key, String field, int[] shape, int axis)
            throws BundleException {
        if (r.get(field) == null) {
            return null;
        }
        List<?> values = list(r, field);
        if (axis >= shape.length || values.isEmpty() || values.size() > shape[axis]) {
            throw bad("tensors." + key + "." + field + " does not fit shape " + java.util.Arrays.toString(shape));
        }
        int[][] out = new int[values.size()][];
        long end = 0;
        long total = 0;
        for (int i = 0; i < out.length; i++) {
            Object run = values.get(i);
            if (!(run instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof Long start)
                    || !(pair.get(1) instanceof Long length) || start < end || length < 1
                    || start + length > (1 << 16)) {
                throw bad("tensors." + key + "." + field + " " + values + " are not ascending [start, length] runs");
            }
            out[i] = new int[] {start.intValue(), length.intValue()};
            end = start + length;
            total += length;
        }
        if (total != shape[axis]) {
            throw bad("tensors." + key + "." + field + " take " + total + " channels, not " + shape[axis]);
        }
        return out;
    }

    private Artifact artifact(String backend, Map<String, Object> a) throws BundleException {
        String file = fileName(a, "file");
        String storedAs = fileName(a, "stored_as");
        Object compression = a.get("compression");
        if (compression != null && !"zlib".equals(compression)) {
            throw bad("artifact " + backend + " has compression " + compression);
        }
        long bytes = size(a, "bytes");
        List<Hole> holes = new ArrayList<>();
        if (a.get("holes") != null) {
            long end = 0;
            for (Object h : list(a, "holes")) {
                List<?> hole = cast(h, List.class, backend + " hole");
                if (hole.size() != 4 || !(hole.get(0) instanceof Long) || !(hole.get(1) instanceof Long)
                        || !(hole.get(2) instanceof String) || !WEIGHT_LAYOUTS.contains(hole.get(3))) {
                    throw bad(backend + " hole " + hole + " is not [offset, length, tensor, layout]");
                }
                long offset = (Long) hole.get(0);
                long length = (Long) hole.get(1);
                Recipe recipe = tensors.get(hole.get(2));
                if (recipe == null) {
                    throw bad(backend + " hole at " + offset + " names tensor '" + hole.get(2)
                            + "', which the manifest lacks");
                }
                if (offset < end || length != 4L * elements(recipe.shape())) {
                    throw bad(backend + " hole at " + offset + " overlaps the previous one or is not the size of "
                            + "tensor '" + hole.get(2) + "'");
                }
                end = offset + length;
                holes.add(new Hole(offset, (int) length, (String) hole.get(2), (String) hole.get(3)));
            }
            if (end > bytes) {
                throw bad(backend + " holes reach byte " + end + ", past the artifact's " + bytes);
            }
        }
        boolean skeleton = compression != null && storedAs.equals(file + ".skel");
        boolean whole = compression == null && storedAs.equals(file) && holes.isEmpty();
        if (!skeleton && !whole) {
            throw bad("artifact " + backend + " is neither a zlib skeleton (" + file + ".skel) nor stored whole");
        }
        List<String> entries = new ArrayList<>();
        for (Object e : list(a, "entries")) {
            entries.add(cast(e, String.class, backend + " entry"));
        }
        Map<String, EntryIO> io = new LinkedHashMap<>();
        if (a.get("io") instanceof Map) {
            for (Map.Entry<String, Object> e : map(a, "io").entrySet()) {
                Map<String, Object> spec = asMap(e.getValue(), backend + " io");
                List<String> outputs = new ArrayList<>();
                for (Object o : list(spec, "outputs")) {
                    outputs.add(cast(o, String.class, backend + " io output"));
                }
                io.put(e.getKey(), new EntryIO(string(spec, "input"), outputs));
            }
        }
        String layout = a.get("layout") == null ? "NCHW" : string(a, "layout");
        if (!layout.equals("NCHW") && !layout.equals("NHWC")) {
            throw bad("artifact " + backend + " has input layout " + layout);
        }
        return new Artifact(backend, file, storedAs, string(a, "precision"), entries, sha(a, "sha256"),
                sha(a, "stored_sha256"), bytes, size(a, "stored_bytes"), (String) compression, holes, layout, io);
    }

    static long elements(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private BundleException bad(String message) {
        return new BundleException(file + ": " + message + "; the bundle is corrupt, rebuild it");
    }

    private <T> T cast(Object value, Class<T> type, String what) throws BundleException {
        if (!type.isInstance(value)) {
            throw bad(what + " is not a " + type.getSimpleName().toLowerCase());
        }
        return type.cast(value);
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> asMap(Object value, String what) throws BundleException {
        return (Map<String, Object>) cast(value, Map.class, what);
    }

    private Map<String, Object> map(Map<String, Object> m, String key) throws BundleException {
        return asMap(m.get(key), key);
    }

    private List<?> list(Map<String, Object> m, String key) throws BundleException {
        return cast(m.get(key), List.class, key);
    }

    private String string(Map<String, Object> m, String key) throws BundleException {
        String s = cast(m.get(key), String.class, key);
        if (s.isEmpty() || s.length() > 256) {
            throw bad(key + " is empty or longer than 256 characters");
        }
        return s;
    }

    private double number(Map<String, Object> m, String key) throws BundleException {
        return cast(m.get(key), Number.class, key).doubleValue();
    }

    private String fileName(Map<String, Object> m, String key) throws BundleException {
        String name = cast(m.get(key), String.class, key);
        if (!FILE_NAME.matcher(name).matches()) {
            throw bad(key + " '" + name + "' is not a plain file name inside the bundle");
        }
        return name;
    }

    private String sha(Map<String, Object> m, String key) throws BundleException {
        String s = cast(m.get(key), String.class, key);
        if (!SHA256.matcher(s).matches()) {
            throw bad(key + " is not a sha256");
        }
        return s;
    }

    private long size(Map<String, Object> m, String key) throws BundleException {
        Object v = m.get(key);
        if (!(v instanceof Long) || (Long) v < 1 || (Long) v > MAX_ARTIFACT_BYTES) {
            throw bad(key + " is not a size in bytes");
        }
        return (Long) v;
    }

    private int[] dims(Map<String, Object> m, String key, int min, int max) throws BundleException {
        List<?> values = list(m, key);
        if (values.size() < min || values.size() > max) {
            throw bad(key + " has " + values.size() + " dimensions");
        }
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = values.get(i);
            if (!(v instanceof Long) || (Long) v < 1 || (Long) v > (1 << 16)) {
                throw bad(key + " " + values + " is not a shape of positive dimensions up to 65536");
            }
            out[i] = ((Long) v).intValue();
        }
        return out;
    }

    private float[] floats(Map<String, Object> m, String key, int channels, float fill) throws BundleException {
        float[] out = new float[channels];
        java.util.Arrays.fill(out, fill);
        if (m.get(key) == null) {
            return out;
        }
        List<?> values = list(m, key);
        if (values.size() != channels) {
            throw bad("preprocessing " + key + " has " + values.size() + " values for " + channels + " channels");
        }
        for (int i = 0; i < channels; i++) {
            out[i] = (float) cast(values.get(i), Number.class, key).doubleValue();
        }
        return out;
    }
}
