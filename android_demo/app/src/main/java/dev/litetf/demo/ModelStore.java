package dev.litetf.demo;

import android.content.Context;
import android.content.pm.PackageManager;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The models the app can benchmark: those taken from {@code /data/local/tmp/lite_tf}, where
 * python -m export.phone pushes them, into its private {@code files/models} folder, then those
 * bundled in its assets (copied to {@code files/bundled} once per install, to load as files). A
 * model's {@code .samples} sits beside it. Results go to the external files folder's
 * {@code results/}, where adb reads them.
 */
final class ModelStore {
    private ModelStore() {
    }

    static File modelsDir(Context context) throws IOException {
        return made(new File(context.getFilesDir(), "models"));
    }

    static File resultsDir(Context context) throws IOException {
        File root = context.getExternalFilesDir(null);
        if (root == null) {
            throw new IOException("the app's external files folder is not available");
        }
        return made(new File(root, "results"));
    }

    /** Every model by file name; a pushed model hides a bundled one of the same name. Copies the
     *  bundled ones on first use after an install: call it off the UI thread. */
    static Map<String, File> all(Context context) throws IOException {
        Map<String, File> models = new LinkedHashMap<>();
        for (File dir : new File[] {modelsDir(context), bundled(context)}) {
            File[] found = dir.listFiles((d, name) -> name.endsWith(".tflite"));
            if (found == null) {
                continue;
            }
            Arrays.sort(found);
            for (File model : found) {
                if (!models.containsKey(model.getName())) {
                    models.put(model.getName(), model);
                }
            }
        }
        return models;
    }

    /** The named models (all of them when {@code names} is empty). */
    static List<File> select(Context context, List<String> names) throws IOException {
        Map<String, File> models = all(context);
        if (names.isEmpty()) {
            return new ArrayList<>(models.values());
        }
        List<File> chosen = new ArrayList<>();
        for (String name : names) {
            File model = models.get(name);
            if (model == null) {
                throw new IllegalArgumentException("no model " + name + " in " + modelsDir(context)
                        + " or the app's assets");
            }
            chosen.add(model);
        }
        return chosen;
    }

    private static File made(File dir) throws IOException {
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
        return dir;
    }

    /** The assets' .tflite and .samples files, copied to files/bundled after each install or update. */
    private static File bundled(Context context) throws IOException {
        File dir = made(new File(context.getFilesDir(), "bundled"));
        long installed;
        try {
            installed = context.getPackageManager().getPackageInfo(context.getPackageName(), 0).lastUpdateTime;
        } catch (PackageManager.NameNotFoundException e) {
            installed = Long.MAX_VALUE;  // cannot tell: copy again
        }
        String[] names = context.getAssets().list("");
        for (String name : names == null ? new String[0] : names) {
            File copy = new File(dir, name);
            if (!name.endsWith(".tflite") && !name.endsWith(".samples")
                    || copy.isFile() && copy.lastModified() >= installed) {
                continue;
            }
            try (InputStream in = context.getAssets().open(name);
                 OutputStream out = new FileOutputStream(copy)) {
                byte[] buffer = new byte[1 << 16];
                for (int n = in.read(buffer); n > 0; n = in.read(buffer)) {
                    out.write(buffer, 0, n);
                }
            }
        }
        return dir;
    }
}
