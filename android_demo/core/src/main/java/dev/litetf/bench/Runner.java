package dev.litetf.bench;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The benchmark loop, as the host's (lite_tf/deploy/benchmark/measure.py) and TFLite's benchmark_model run it:
 * init = loading the model (interpreter, delegate, tensors); the first inference on its own; then
 * at least {@code warmup} untimed runs lasting at least 0.5 s, and at least {@code runs} timed runs
 * lasting at least 1 s. Then, when the model has samples, each sample once, for the agreement with
 * the host's predictions.
 */
public final class Runner {
    public static final double WARMUP_SECONDS = 0.5;
    public static final double MIN_SECONDS = 1.0;

    private final Clock clock;
    private final double warmupSeconds;
    private final double minSeconds;
    private final Memory.Probe memory;

    public Runner() {
        this(Clock.SYSTEM, WARMUP_SECONDS, MIN_SECONDS, Memory.PROC);
    }

    public Runner(Clock clock, double warmupSeconds, double minSeconds, Memory.Probe memory) {
        this.clock = clock;
        this.warmupSeconds = warmupSeconds;
        this.minSeconds = minSeconds;
        this.memory = memory;
    }

    public Result measure(Backend backend, File file, Delegate delegate, int threads, int runs, int warmup,
                          Samples samples) throws Exception {
        Memory used = Memory.start(memory);
        long start = clock.nanoTime();
        try (Backend.Model model = backend.load(file, delegate, threads)) {
            double init = millis(clock.nanoTime() - start);
            int count = samples == null ? 0 : samples.inputs.length;
            if (count > 0 && (!samples.inputType.equals(model.inputType())
                    || samples.inputs[0].length != model.inputBytes())) {
                throw new IllegalArgumentException(file.getName() + ": its samples are "
                        + samples.inputs[0].length + " bytes of " + samples.inputType
                        + " but the model takes " + model.inputBytes() + " bytes of " + model.inputType()
                        + " (export the samples with this model)");
            }
            model.setInput(count > 0 ? samples.inputs[0] : randomInput(model));
            start = clock.nanoTime();
            model.run();
            double first = millis(clock.nanoTime() - start);
            invocations(model, warmup, warmupSeconds);
            double[] times = invocations(model, runs, minSeconds);
            Double agreement = null;
            if (count > 0) {
                int same = 0;
                for (int i = 0; i < count; i++) {
                    model.setInput(samples.inputs[i]);
                    model.run();
                    same += model.top1() == samples.predictions[i] ? 1 : 0;
                }
                agreement = (double) same / count;
            }
            String name = file.getName();
            return new Result(name.endsWith(".tflite") ? name.substring(0, name.length() - 7) : name,
                    file.getAbsolutePath(), file.length(), delegate, threads, times.length, warmup, init,
                    first, Stats.of(times), used.added(), samples == null ? null : samples.hostTop1, count,
                    agreement);
        }
    }

    /** Runs at least {@code count} times and for at least {@code seconds}; each run's milliseconds. */
    private double[] invocations(Backend.Model model, int count, double seconds) throws Exception {
        List<Double> times = new ArrayList<>();
        long begin = clock.nanoTime();
        while (times.size() < count || clock.nanoTime() - begin < seconds * 1e9) {
            long start = clock.nanoTime();
            model.run();
            times.add(millis(clock.nanoTime() - start));
        }
        double[] out = new double[times.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = times.get(i);
        }
        return out;
    }

    /** A fixed random input, as the host uses: values in [-1, 1) for float32, any byte otherwise. */
    static byte[] randomInput(Backend.Model model) {
        Random random = new Random(0);
        byte[] input = new byte[model.inputBytes()];
        if (!"float32".equals(model.inputType())) {
            random.nextBytes(input);
            return input;
        }
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(input).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        while (buffer.remaining() >= 4) {
            buffer.putFloat(random.nextFloat() * 2 - 1);
        }
        return input;
    }

    private static double millis(long nanos) {
        return nanos / 1e6;
    }
}
