package dev.litetf.bench;

import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;

/**
 * Models on their way in: python -m export.phone pushes them to {@link #DIR}, where adb can write on
 * every Android version (a push into {@code Android/data} fails on many Android 11-13 phones with
 * "remote fchown failed"), and the app copies them into its own models folder before measuring.
 */
public final class Staging {
    public static final String DIR = "/data/local/tmp/lite_tf";

    private Staging() {
    }

    /**
     * Copies each named model found in {@code staging} into {@code models}, with its {@code .samples}
     * (an older copy of the samples is removed when none came with it: they were another model's).
     * Names not staged are left alone (models bundled or taken earlier).
     */
    public static void take(File staging, File models, List<String> names) throws IOException {
        for (String name : names) {
            File model = new File(staging, name);
            if (!model.isFile()) {
                continue;
            }
            copy(model, new File(models, name));
            File samples = Samples.besides(model);
            File kept = Samples.besides(new File(models, name));
            if (samples.isFile()) {
                copy(samples, kept);
            } else if (kept.exists() && !kept.delete()) {
                throw new IOException("cannot remove " + kept);
            }
        }
    }

    /** Copies {@code from} to a hidden partial file beside {@code to}, then renames it. */
    static void copy(File from, File to) throws IOException {
        File partial = new File(to.getParentFile(), "." + to.getName() + ".partial");
        try (InputStream in = new FileInputStream(from); OutputStream out = new FileOutputStream(partial)) {
            byte[] buffer = new byte[1 << 16];
            for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
                out.write(buffer, 0, n);
            }
        } catch (IOException e) {
            partial.delete();
            throw new IOException("cannot copy " + from + " to " + to + ": " + Session.firstLine(e), e);
        }
        if (!partial.renameTo(to)) {
            throw new IOException("cannot rename " + partial + " to " + to);
        }
    }
}
