package dev.edgeslim;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/** An edgeslim bundle directory, opened and checked: {@code manifest.json}, the shared weight blob
 * ({@code weights.safetensors}) and one artifact per backend. {@link #assemble} writes a backend's complete
 * artifact ({@code model.pte}, {@code model.tflite}) — byte-identical to the Python device side's, checked by the
 * manifest's sha256 — for ExecuTorch's {@code Module} or LiteRT's {@code Interpreter} to load.
 *
 * <p>A bundle comes from elsewhere: only regular files named in the manifest and lying inside the bundle are read
 * (no links), their sizes are checked before reading and their sha256s before use. */
public final class Bundle {
    public static final String MANIFEST = "manifest.json";
    static final long MAX_MANIFEST_BYTES = 64L << 20;

    private final Path path;
    private final Manifest manifest;
    private Safetensors blob;

    private Bundle(Path path, Manifest manifest) {
        this.path = path;
        this.manifest = manifest;
    }

    /** Open the bundle directory {@code path}, checking every stored file against its sha256. */
    public static Bundle open(Path path) throws BundleException {
        return open(path, true);
    }

    /** Open the bundle directory {@code path}; with {@code verify}, check every stored file against its sha256
     * (sizes, links and the manifest are always checked). */
    public static Bundle open(Path path, boolean verify) throws BundleException {
        if (!Files.isDirectory(path)) {
            throw new BundleException(path + ": no such bundle directory; build one with `edgeslim build RUN "
                    + "--target android-arm64`");
        }
        Path file = path.resolve(MANIFEST);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new BundleException(path + ": not an edgeslim bundle (no " + MANIFEST + ")");
        }
        Manifest manifest;
        try {
            if (Files.size(file) > MAX_MANIFEST_BYTES) {
                throw new BundleException(file + ": larger than any manifest; not an edgeslim bundle");
            }
            manifest = Manifest.parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8), file.toString());
        } catch (IOException ex) {
            throw new BundleException(file + ": cannot read it (" + ex.getMessage() + ")");
        }
        Bundle bundle = new Bundle(path, manifest);
        Path blob = bundle.file(manifest.blobFile, manifest.blobBytes);
        for (Manifest.Artifact artifact : manifest.artifacts.values()) {
            bundle.stored(artifact);
        }
        if (verify) {
            bundle.check(blob, manifest.blobSha256);
            for (Manifest.Artifact artifact : manifest.artifacts.values()) {
                bundle.check(bundle.stored(artifact), artifact.storedSha256());
            }
        }
        bundle.checkRecipes();
        return bundle;
    }

    public Path path() {
        return path;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** The widths, smallest (fewest MFLOPs) first: the controller's rungs. */
    public List<Manifest.Width> widths() {
        List<Manifest.Width> sorted = new ArrayList<>(manifest.widths);
        sorted.sort(Comparator.comparingDouble(Manifest.Width::mflops));
        return sorted;
    }

    /** The backends this bundle holds, e.g. {@code executorch}, {@code tflite}. */
    public List<String> backends() {
        return new ArrayList<>(manifest.artifacts.keySet());
    }

    /** Backend {@code backend}'s artifact: file name, entries, input layout, sha256 (a cache key for its bytes). */
    public Manifest.Artifact artifact(String backend) throws BundleException {
        Manifest.Artifact artifact = manifest.artifacts.get(backend);
        if (artifact == null) {
            throw new BundleException(path + ": has no " + backend + " artifact (it has "
                    + String.join(", ", backends()) + "); build it with --backends " + backend);
        }
        return artifact;
    }

    /** The controller policy the bundle was built with (its target profile's). */
    public Policy policy() {
        return Policy.fromJson(manifest.policy);
    }

    /** Write {@code backend}'s complete artifact into {@code outDir} (atomically: a temp file, then renamed), checked
     * against the manifest's sha256; returns its path. */
    public Path assemble(String backend, Path outDir) throws BundleException, IOException {
        Manifest.Artifact artifact = artifact(backend);
        Files.createDirectories(outDir);
        Path target = outDir.resolve(artifact.file());  // a plain file name: always inside outDir
        Path stored = stored(artifact);
        if (Files.isDirectory(stored, LinkOption.NOFOLLOW_LINKS)) {
            return copyFolder(stored, target, artifact.sha256());
        }
        Path partial = outDir.resolve(artifact.file() + ".partial");
        MessageDigest digest = sha256();
        try (OutputStream out = new DigestOutputStream(new BufferedOutputStream(Files.newOutputStream(partial),
                1 << 20), digest)) {
            byte[] data = Files.readAllBytes(stored);
            if (artifact.isSkeleton()) {
                byte[] skeleton = inflate(data, artifact, stored);
                try {
                    Skeleton.assemble(skeleton, artifact.holes(), manifest.tensors, blob(), out);
                } catch (IllegalArgumentException ex) {
                    throw new BundleException(stored + ": cannot rebuild the artifact from the blob ("
                            + ex.getMessage() + "); rebuild the bundle");
                }
            } else {
                out.write(data);
            }
        } catch (BundleException | IOException | RuntimeException ex) {
            Files.deleteIfExists(partial);
            throw ex;
        }
        if (!hex(digest.digest()).equals(artifact.sha256())) {
            Files.deleteIfExists(partial);
            throw new BundleException(stored + ": rebuilt artifact does not match its sha256 in " + MANIFEST
                    + "; the bundle is corrupt, rebuild it");
        }
        move(partial, target);
        return target;
    }

    /** Every backend's complete artifact, written into {@code outDir}; returns their paths. */
    public List<Path> assembleAll(Path outDir) throws BundleException, IOException {
        List<Path> written = new ArrayList<>();
        for (String backend : backends()) {
            written.add(assemble(backend, outDir));
        }
        return written;
    }

    /** {@code backend}'s artifact from {@code cacheDir}/&lt;its sha256&gt;/, assembled there the first time: an app
     * assembles once per bundle version and loads the cached file on every later launch. */
    public Path assembleCached(String backend, Path cacheDir) throws BundleException, IOException {
        Manifest.Artifact artifact = artifact(backend);
        Path folder = cacheDir.resolve(artifact.sha256().substring(0, 16));
        Path cached = folder.resolve(artifact.file());
        if (Files.isRegularFile(cached, LinkOption.NOFOLLOW_LINKS) && Files.size(cached) == artifact.bytes()) {
            return cached;
        }
        return assemble(backend, folder);
    }

    private Safetensors blob() throws BundleException {
        if (blob == null) {
            blob = Safetensors.open(file(manifest.blobFile, manifest.blobBytes));
        }
        return blob;
    }

    /** Every recipe's tensors exist in the blob as float32, and every prefix fits inside its source. */
    private void checkRecipes() throws BundleException {
        for (Map.Entry<String, Manifest.Recipe> e : manifest.tensors.entrySet()) {
            Manifest.Recipe recipe = e.getValue();
            if (recipe.source() != null) {
                int[] source = blob().shape(recipe.source());
                if (source == null || source.length != recipe.shape().length) {
                    throw corrupt("tensor '" + e.getKey() + "' names '" + recipe.source()
                            + "', not a float32 tensor of its rank in the weight blob");
                }
                for (int d = 0; d < source.length; d++) {
                    if (recipe.reach(d) > source[d]) {
                        throw corrupt("tensor '" + e.getKey() + "' is not a prefix of '" + recipe.source() + "'");
                    }
                }
            }
            if (recipe.bn() != null) {
                Manifest.BatchNorm bn = recipe.bn();
                for (String name : new String[] {bn.weight(), bn.bias(), bn.mean(), bn.var()}) {
                    int[] vector = blob().shape(name);
                    boolean affine = name.equals(bn.weight()) || name.equals(bn.bias());
                    int need = affine ? recipe.reach(0) : recipe.shape()[0];
                    if (vector == null || vector.length != 1 || vector[0] < need) {
                        throw corrupt("batch norm tensor '" + name + "' of tensor '" + e.getKey()
                                + "' is not a float32 vector of at least " + need + " channels");
                    }
                }
            }
        }
    }

    private BundleException corrupt(String message) {
        return new BundleException(path.resolve(manifest.blobFile) + ": " + message + "; the bundle is corrupt, "
                + "rebuild it");
    }

    private byte[] inflate(byte[] data, Manifest.Artifact artifact, Path stored) throws BundleException {
        long expected = artifact.bytes();
        for (Manifest.Hole hole : artifact.holes()) {
            expected -= hole.length();
        }
        if (expected < 0 || expected > Integer.MAX_VALUE - 1) {
            throw new BundleException(stored + ": a skeleton of " + expected + " bytes; the bundle is corrupt, "
                    + "rebuild it");
        }
        byte[] out = new byte[(int) expected + 1];  // bounded: a skeleton is the artifact minus its holes, no more
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(data);
            int n = 0;
            while (n < out.length && !inflater.finished()) {
                int got = inflater.inflate(out, n, out.length - n);
                if (got == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
                n += got;
            }
            if (n != expected || !inflater.finished()) {
                throw new BundleException(stored + ": inflates to another size than the manifest's " + expected
                        + " bytes; copy the bundle again or rebuild it");
            }
            return java.util.Arrays.copyOf(out, n);
        } catch (DataFormatException ex) {
            throw new BundleException(stored + ": damaged (" + ex.getMessage() + "); copy the bundle again or "
                    + "rebuild it");
        } finally {
            inflater.end();
        }
    }

    /** {@code path/name}: a regular file inside the bundle, not a link; with {@code size} ≥ 0, that many bytes. */
    private Path file(String name, long size) throws BundleException {
        Path file = inside(name);
        if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw new BundleException(file + ": " + (Files.exists(file, LinkOption.NOFOLLOW_LINKS)
                    ? "not a regular file" : "missing from the bundle") + "; copy the whole bundle directory");
        }
        try {
            long found = Files.size(file);
            if (size >= 0 && found != size) {
                throw new BundleException(file + ": " + found + " bytes, the manifest says " + size
                        + " (truncated or modified); copy the bundle again or rebuild it");
            }
        } catch (IOException ex) {
            throw new BundleException(file + ": cannot read it (" + ex.getMessage() + ")");
        }
        return file;
    }

    private Path inside(String name) throws BundleException {
        Path file = path.resolve(name);
        try {
            if (Files.isSymbolicLink(file) || (Files.exists(file, LinkOption.NOFOLLOW_LINKS)
                    && !file.toRealPath().getParent().equals(path.toRealPath()))) {
                throw new BundleException(file + ": a link or outside the bundle; a bundle holds only its own files");
            }
        } catch (IOException ex) {
            throw new BundleException(file + ": cannot read it (" + ex.getMessage() + ")");
        }
        return file;
    }

    /** Where {@code artifact} is stored: a file of its stored size, or (Core ML) a folder. */
    private Path stored(Manifest.Artifact artifact) throws BundleException {
        Path folder = inside(artifact.storedAs());
        if (!artifact.isSkeleton() && Files.isDirectory(folder, LinkOption.NOFOLLOW_LINKS)) {
            return folder;
        }
        return file(artifact.storedAs(), artifact.storedBytes());
    }

    private void check(Path file, String sha256) throws BundleException {
        String found;
        try {
            found = sha256Of(file);
        } catch (IOException ex) {
            throw new BundleException(file + ": cannot read it (" + ex.getMessage() + ")");
        }
        if (!found.equals(sha256)) {
            throw new BundleException(file + ": sha256 does not match " + MANIFEST + " (truncated or modified); copy "
                    + "the bundle again or rebuild it");
        }
    }

    /** sha256 of a file, or of a folder's files (relative path + content, in sorted order), as the Python side. */
    static String sha256Of(Path path) throws IOException, BundleException {
        MessageDigest digest = sha256();
        byte[] buffer = new byte[1 << 20];
        List<Path> files = Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS) ? filesOf(path) : java.util.Collections.singletonList(path);
        for (Path file : files) {
            if (!file.equals(path)) {
                digest.update(relative(path, file).getBytes(StandardCharsets.UTF_8));
            }
            try (InputStream in = Files.newInputStream(file)) {
                for (int n; (n = in.read(buffer)) > 0; ) {
                    digest.update(buffer, 0, n);
                }
            }
        }
        return hex(digest.digest());
    }

    private static String relative(Path root, Path file) {
        List<String> parts = new ArrayList<>();
        for (Path part : root.relativize(file)) {
            parts.add(part.toString());
        }
        return String.join("/", parts);
    }

    /** The regular files of a folder tree, sorted by path components; links and special files are refused. */
    private static List<Path> filesOf(Path root) throws IOException, BundleException {
        List<Path> found = new ArrayList<>();
        List<Path> pending = new ArrayList<>(java.util.Collections.singletonList(root));
        while (!pending.isEmpty()) {
            Path dir = pending.remove(pending.size() - 1);
            try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
                for (Path child : children) {
                    BasicFileAttributes attrs = Files.readAttributes(child, BasicFileAttributes.class,
                            LinkOption.NOFOLLOW_LINKS);
                    if (attrs.isDirectory()) {
                        pending.add(child);
                    } else if (attrs.isRegularFile()) {
                        found.add(child);
                    } else {
                        throw new BundleException(child + ": not a regular file or folder; a bundle holds only those");
                    }
                }
            }
        }
        found.sort((a, b) -> {
            Path ra = root.relativize(a);
            Path rb = root.relativize(b);
            for (int i = 0; i < Math.min(ra.getNameCount(), rb.getNameCount()); i++) {
                int c = ra.getName(i).toString().compareTo(rb.getName(i).toString());
                if (c != 0) {
                    return c;
                }
            }
            return Integer.compare(ra.getNameCount(), rb.getNameCount());
        });
        return found;
    }

    private Path copyFolder(Path stored, Path target, String sha256) throws BundleException, IOException {
        check(stored, sha256);
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        deleteTree(partial);
        for (Path file : filesOf(stored)) {
            Path copy = partial.resolve(stored.relativize(file).toString());
            Files.createDirectories(copy.getParent());
            Files.copy(file, copy);
        }
        deleteTree(target);
        move(partial, target);
        return target;
    }

    private static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(path, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> children = Files.newDirectoryStream(path)) {
                for (Path child : children) {
                    deleteTree(child);
                }
            }
        }
        Files.delete(path);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException ex) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException("no SHA-256 in this Java runtime", ex);
        }
    }

    static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
        }
        return out.toString();
    }
}
