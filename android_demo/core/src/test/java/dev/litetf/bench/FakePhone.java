package dev.litetf.bench;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The app's headless mode with FakeBackend in place of LiteRT, for the Python tests (the fake adb
 * runs it when told to start the app): {@code java dev.litetf.bench.FakePhone --models-dir DIR
 * [--staging DIR] --out FILE [--models a.tflite,...] [--threads ...] [--delegates ...] [--runs N] [--warmup N]}.
 * Each model's runs take 0.1 ms plus 1 ms per MiB of file on a fake clock, divided by the threads
 * (by 4 on the GPU), with a little spread. A model with samples takes their input size and type
 * and predicts what the host predicted for each sample, except for every 32nd sample (the 32nd,
 * 64th, ...), so the agreement shows the samples were read as Python wrote them. Writes the
 * results JSON, or on bad options the error as one line to FILE's name with .error, as the app
 * does.
 */
public final class FakePhone {
    public static void main(String[] args) throws Exception {
        Map<String, String> rest = new LinkedHashMap<>();
        File out = null;
        try {
            Options options = Options.fromArgs(args, rest);
            out = new File(rest.get("out"));
            File dir = new File(rest.get("models_dir"));
            if (rest.containsKey("staging")) {  // as the app takes what python -m export.phone pushed
                Staging.take(new File(rest.get("staging")), dir, options.models);
            }
            List<File> models = new ArrayList<>();
            if (options.models.isEmpty()) {
                File[] found = dir.listFiles((d, name) -> name.endsWith(".tflite"));
                Arrays.sort(found);
                models.addAll(Arrays.asList(found));
            }
            for (String name : options.models) {
                File model = new File(dir, name);
                if (!model.isFile()) {
                    throw new IllegalArgumentException("no model " + name + " in " + dir);
                }
                models.add(model);
            }
            FakeClock clock = new FakeClock();
            Backend backend = new FakeBackend(clock) {
                private final Map<String, Integer> host = new HashMap<>();

                @Override
                public Model load(File file, Delegate delegate, int threads) throws IOException {
                    double base = 0.1 + file.length() / 1048576.0 / (delegate == Delegate.GPU ? 4 : threads);
                    runMillis = new double[] {base, base * 1.1, base * 0.95, base * 1.3};
                    host.clear();
                    File samples = Samples.besides(file);
                    if (samples.exists()) {
                        Samples s = Samples.read(samples);
                        inputType = s.inputType;
                        inputBytes = s.inputs.length > 0 ? s.inputs[0].length : inputBytes;
                        for (int i = 0; i < s.inputs.length; i++) {
                            int classes = Math.max(s.numClasses, 2);
                            host.put(Arrays.toString(s.inputs[i]), i % 32 == 31
                                    ? (s.predictions[i] + 1) % classes : s.predictions[i]);
                        }
                    }
                    return super.load(file, delegate, threads);
                }

                @Override
                int predict(byte[] input) {
                    return host.getOrDefault(Arrays.toString(input), 0);
                }
            };
            Device device = new Device("Fake phone", "Android 14 (API 34)", "fake SoC", 8);
            Session.write(Session.run(backend, new Runner(clock, Runner.WARMUP_SECONDS, Runner.MIN_SECONDS,
                    new FakeMemory(true, 100L << 20, 164L << 20)), device, models, options, (i, n, m, d, t) -> { }), out);
        } catch (IllegalArgumentException e) {
            if (out == null) {
                throw e;
            }
            Session.writeText(Session.firstLine(e) + "\n", new File(out.getPath().replaceAll("\\.json$", ".error")));
        }
    }
}
