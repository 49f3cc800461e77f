package dev.edgeslim.android;

import android.content.Context;
import android.content.res.AssetManager;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;

/** Copies a bundle shipped in the APK's assets into the app's files dir on first launch (ExecuTorch's Module and
 * the assembler need file paths). NOT COMPILED IN CI: this folder needs the Android SDK. */
public final class AssetBundles {
    private AssetBundles() {}

    /** {@code assets/<name>/} copied to {@code filesDir/<name>/} (once: skipped when its manifest.json is there). */
    public static File copy(Context context, String name) throws IOException {
        File target = new File(context.getFilesDir(), name);
        if (new File(target, "manifest.json").isFile()) {
            return target;
        }
        File partial = new File(context.getFilesDir(), name + ".partial");
        copyTree(context.getAssets(), name, partial);
        Files.move(partial.toPath(), target.toPath(), StandardCopyOption.ATOMIC_MOVE);
        return target;
    }

    private static void copyTree(AssetManager assets, String path, File out) throws IOException {
        String[] children = assets.list(path);
        if (children == null || children.length == 0) {  // a file
            out.getParentFile().mkdirs();
            try (InputStream in = assets.open(path); OutputStream o = Files.newOutputStream(out.toPath())) {
                byte[] buffer = new byte[1 << 16];
                for (int n; (n = in.read(buffer)) > 0; ) {
                    o.write(buffer, 0, n);
                }
            }
            return;
        }
        out.mkdirs();
        for (String child : children) {
            copyTree(assets, path + "/" + child, new File(out, child));
        }
    }
}
