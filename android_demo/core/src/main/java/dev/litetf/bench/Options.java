package dev.litetf.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What to benchmark, from the headless mode's intent extras ({@code adb shell am start ... --es
 * models a.tflite,b.tflite --es threads 1,2,4 --es delegates xnnpack,gpu --ei runs 50}) or from
 * {@code --key value} arguments. Every problem is an IllegalArgumentException with a one-line
 * message.
 */
public final class Options {
    public static final List<String> KEYS =
            Arrays.asList("models", "threads", "delegates", "runs", "warmup", "run_id");
    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9._-]{1,64}");

    /** Model file names; empty: every model the app has. */
    public final List<String> models;
    public final List<Integer> threads;
    public final List<Delegate> delegates;
    public final int runs;
    public final int warmup;
    /** Names the results file, {@code results/<run_id>.json}. */
    public final String runId;

    private Options(List<String> models, List<Integer> threads, List<Delegate> delegates, int runs,
                    int warmup, String runId) {
        this.models = Collections.unmodifiableList(models);
        this.threads = Collections.unmodifiableList(threads);
        this.delegates = Collections.unmodifiableList(delegates);
        this.runs = runs;
        this.warmup = warmup;
        this.runId = runId;
    }

    /** From string values by key (an intent's extras, each turned into a string). */
    public static Options parse(Map<String, String> values) {
        for (String key : values.keySet()) {
            if (!KEYS.contains(key)) {
                throw new IllegalArgumentException(
                        "unknown option '" + key + "': expected one of " + String.join(", ", KEYS));
            }
        }
        List<String> models = new ArrayList<>();
        for (String name : split(values.getOrDefault("models", ""))) {
            if (name.contains("/")) {
                throw new IllegalArgumentException(
                        "models are file names in the app's models folder, not paths: " + name);
            }
            models.add(name);
        }
        List<Integer> threads = new ArrayList<>();
        for (String text : split(values.getOrDefault("threads", "1"))) {
            threads.add(integer("threads", text, 1));
        }
        List<Delegate> delegates = new ArrayList<>();
        for (String text : split(values.getOrDefault("delegates", "xnnpack"))) {
            delegates.add(Delegate.parse(text));
        }
        if (threads.isEmpty() || delegates.isEmpty()) {
            throw new IllegalArgumentException("threads and delegates need at least one value each");
        }
        String runId = values.getOrDefault("run_id", "results");
        if (!isRunId(runId)) {
            throw new IllegalArgumentException(
                    "run_id must be 1-64 letters, digits, '.', '_' or '-', got '" + runId + "'");
        }
        return new Options(models, threads, delegates,
                integer("runs", values.getOrDefault("runs", "50"), 1),
                integer("warmup", values.getOrDefault("warmup", "5"), 0), runId);
    }

    /** Whether {@code text} can name a results file: 1-64 letters, digits, '.', '_' or '-'. */
    public static boolean isRunId(String text) {
        return RUN_ID.matcher(text).matches();
    }

    /** From {@code --models a.tflite,b.tflite --threads 1,2 ...}; other arguments are returned in
     *  {@code rest} for the caller. */
    public static Options fromArgs(String[] args, Map<String, String> rest) {
        Map<String, String> values = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --key value pairs, got '" + args[i] + "'");
            }
            String key = args[i].substring(2).replace('-', '_');
            (KEYS.contains(key) ? values : rest).put(key, args[i + 1]);
        }
        return parse(values);
    }

    private static List<String> split(String text) {
        List<String> parts = new ArrayList<>();
        for (String part : text.split(",")) {
            if (!part.trim().isEmpty()) {
                parts.add(part.trim());
            }
        }
        return parts;
    }

    private static int integer(String key, String text, int minimum) {
        int value;
        try {
            value = Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(key + ": expected an integer, got '" + text + "'");
        }
        if (value < minimum) {
            throw new IllegalArgumentException(key + ": expected at least " + minimum + ", got " + value);
        }
        return value;
    }
}
