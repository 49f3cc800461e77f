package dev.edgeslim;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/** {@code java -cp edgeslim.jar dev.edgeslim.Assemble BUNDLE OUTDIR [--stats]}: write every assembled artifact
 * of a bundle into OUTDIR, one line per artifact on stdout; with {@code --stats}, the time and peak Java heap on
 * stderr. A bad bundle is one line on stderr and exit status 1. */
public final class Assemble {
    private Assemble() {}

    public static void main(String[] args) {
        if (args.length < 2 || args.length > 3 || (args.length == 3 && !args[2].equals("--stats"))) {
            System.err.println("usage: java -cp edgeslim.jar dev.edgeslim.Assemble BUNDLE OUTDIR [--stats]");
            System.exit(2);
        }
        long started = System.nanoTime();
        try {
            Bundle bundle = Bundle.open(Paths.get(args[0]));
            for (String backend : bundle.backends()) {
                long t = System.nanoTime();
                Path written = bundle.assemble(backend, Paths.get(args[1]));
                Manifest.Artifact artifact = bundle.artifact(backend);
                System.out.printf("%s %s %d bytes sha256 %s (%.1f ms)%n", backend, written, size(written),
                        artifact.sha256(), (System.nanoTime() - t) / 1e6);
            }
        } catch (BundleException ex) {
            System.err.println("edgeslim: " + ex.getMessage());
            System.exit(1);
        } catch (IOException ex) {
            System.err.println("edgeslim: cannot write into " + args[1] + " (" + ex + ")");
            System.exit(1);
        } catch (OutOfMemoryError ex) {
            System.err.println("edgeslim: not enough Java heap to assemble " + args[0] + "; raise it (java -Xmx…)");
            System.exit(1);
        }
        if (args.length == 3) {
            long peak = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP) {
                    peak += pool.getPeakUsage().getUsed();
                }
            }
            System.err.printf("assembled in %.1f ms, peak heap %.1f MiB%n", (System.nanoTime() - started) / 1e6,
                    peak / 1048576.0);
        }
    }

    private static long size(Path path) throws IOException {
        return Files.isDirectory(path) ? Files.walk(path).filter(Files::isRegularFile).mapToLong(p -> p.toFile()
                .length()).sum() : Files.size(path);
    }
}
