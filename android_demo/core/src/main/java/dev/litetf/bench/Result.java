package dev.litetf.bench;

import org.json.JSONException;
import org.json.JSONObject;

/** One model at one delegate and thread count: an entry of {@code results} in lite_tf.benchmark/2. */
public final class Result {
    public final String model;
    public final String path;
    public final long sizeBytes;
    public final Delegate delegate;
    public final int threads;
    public final int runs;
    public final int warmup;
    public final double initMs;
    public final double firstInferenceMs;
    public final Stats stats;
    /** What loading and running the model added to resident memory (see {@link Memory}); null if unknown. */
    public final Long modelMemoryBytes;
    public final Double top1;
    public final int samples;
    /** Fraction of the samples where this device's top-1 equals the host's; null without samples. */
    public final Double agreement;

    public Result(String model, String path, long sizeBytes, Delegate delegate, int threads, int runs,
                  int warmup, double initMs, double firstInferenceMs, Stats stats, Long modelMemoryBytes,
                  Double top1, int samples, Double agreement) {
        this.model = model;
        this.path = path;
        this.sizeBytes = sizeBytes;
        this.delegate = delegate;
        this.threads = threads;
        this.runs = runs;
        this.warmup = warmup;
        this.initMs = initMs;
        this.firstInferenceMs = firstInferenceMs;
        this.stats = stats;
        this.modelMemoryBytes = modelMemoryBytes;
        this.top1 = top1;
        this.samples = samples;
        this.agreement = agreement;
    }

    public JSONObject toJson() throws JSONException {
        return new JSONObject()
                .put("model", model).put("path", path).put("size_bytes", sizeBytes)
                .put("delegate", delegate.name()).put("threads", threads).put("runs", runs)
                .put("warmup", warmup).put("init_ms", initMs).put("first_inference_ms", firstInferenceMs)
                .put("mean_ms", stats.mean).put("std_ms", stats.std).put("p50_ms", stats.p50)
                .put("p90_ms", stats.p90).put("p99_ms", stats.p99)
                .put("model_memory_bytes", orNull(modelMemoryBytes)).put("top1", orNull(top1))
                .put("samples", samples).put("agreement", orNull(agreement));
    }

    /** org.json drops a key put with null; the schema wants it present as null. */
    static Object orNull(Object value) {
        return value == null ? JSONObject.NULL : value;
    }
}
