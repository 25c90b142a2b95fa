package dev.litetf.bench;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * Every model at every delegate and thread count, as one lite_tf.benchmark/2 document. A model a
 * delegate cannot run (a GPU without support, a missing op, a native library that does not load,
 * no memory) becomes an entry of {@code errors} and the rest go on. The GPU delegate runs once per model, with the first thread count.
 */
public final class Session {
    public static final String SCHEMA = "lite_tf.benchmark/2";

    /** Told before each measurement, e.g. to show progress. */
    public interface Listener {
        void started(int index, int total, File model, Delegate delegate, int threads);
    }

    private Session() {
    }

    public static JSONObject run(Backend backend, Runner runner, Device device, List<File> models,
                                 Options options, Listener listener) throws JSONException {
        JSONArray results = new JSONArray();
        JSONArray errors = new JSONArray();
        int total = 0;
        for (Delegate delegate : options.delegates) {
            total += models.size() * (delegate == Delegate.GPU ? 1 : options.threads.size());
        }
        int index = 0;
        for (File model : models) {
            Samples samples = null;
            String samplesError = null;
            File samplesFile = Samples.besides(model);
            if (samplesFile.exists()) {
                try {
                    samples = Samples.read(samplesFile);
                } catch (IOException e) {
                    samplesError = firstLine(e);
                }
            }
            for (Delegate delegate : options.delegates) {
                for (int threads : options.threads) {
                    listener.started(index++, total, model, delegate, threads);
                    try {
                        if (samplesError != null) {
                            throw new IOException(samplesError);
                        }
                        results.put(runner.measure(backend, model, delegate, threads, options.runs,
                                options.warmup, samples).toJson());
                    } catch (Throwable e) {  // UnsatisfiedLinkError, OutOfMemoryError: reported, not fatal
                        errors.put(new JSONObject().put("model", model.getName())
                                .put("delegate", delegate.name()).put("threads", threads)
                                .put("error", firstLine(e)));
                    }
                    if (delegate == Delegate.GPU) {
                        break;
                    }
                }
            }
        }
        return new JSONObject().put("schema", SCHEMA).put("device", device.toJson(backend))
                .put("results", results).put("errors", errors);
    }

    /** Writes {@code document} so that a reader polling for {@code file} sees all of it or nothing. */
    public static void write(JSONObject document, File file) throws IOException, JSONException {
        writeText(document.toString(2) + "\n", file);
    }

    /** Writes {@code text} to a hidden partial file, then renames it to {@code file}. */
    public static void writeText(String text, File file) throws IOException {
        File partial = new File(file.getParentFile(), "." + file.getName() + ".partial");
        try (Writer out = new OutputStreamWriter(new FileOutputStream(partial), StandardCharsets.UTF_8)) {
            out.write(text);
        }
        if (!partial.renameTo(file)) {
            throw new IOException("cannot rename " + partial + " to " + file);
        }
    }

    /** An exception as one line: its message's first line, or its type. */
    public static String firstLine(Throwable e) {
        String message = e.getMessage();
        if (message == null || message.trim().isEmpty()) {
            return e.getClass().getSimpleName();
        }
        return message.trim().split("\n")[0];
    }
}
