package dev.litetf.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.Test;

public class OptionsTest {
    @Test
    public void defaults() {
        Options o = Options.parse(Collections.singletonMap("models", "a.tflite, b.tflite"));
        assertEquals(Arrays.asList("a.tflite", "b.tflite"), o.models);
        assertEquals(Arrays.asList(1), o.threads);
        assertEquals(Arrays.asList(Delegate.XNNPACK), o.delegates);
        assertEquals(50, o.runs);
        assertEquals(5, o.warmup);
        assertEquals("results", o.runId);
    }

    @Test
    public void everyOptionAsTheHostSendsThem() {
        Map<String, String> extras = new HashMap<>();
        extras.put("threads", "1,2,4");
        extras.put("delegates", "xnnpack,GPU,cpu");
        extras.put("runs", "20");
        extras.put("warmup", "0");
        extras.put("run_id", "lite_tf-20261124.1");
        Options o = Options.parse(extras);
        assertEquals(Collections.emptyList(), o.models);  // every model the app has
        assertEquals(Arrays.asList(1, 2, 4), o.threads);
        assertEquals(Arrays.asList(Delegate.XNNPACK, Delegate.GPU, Delegate.CPU), o.delegates);
        assertEquals(20, o.runs);
        assertEquals(0, o.warmup);
        assertEquals("lite_tf-20261124.1", o.runId);
    }

    @Test
    public void argumentsLeaveTheRestToTheCaller() {
        Map<String, String> rest = new LinkedHashMap<>();
        Options o = Options.fromArgs(new String[] {"--models", "m.tflite", "--out", "r.json", "--run-id", "x"}, rest);
        assertEquals(Arrays.asList("m.tflite"), o.models);
        assertEquals("x", o.runId);
        assertEquals(Collections.singletonMap("out", "r.json"), rest);
    }

    @Test
    public void badValuesAreOneLineErrors() {
        bad("threads", "0", "threads: expected at least 1, got 0");
        bad("threads", "1,two", "threads: expected an integer, got 'two'");
        bad("runs", "0", "runs: expected at least 1, got 0");
        bad("warmup", "-1", "warmup: expected at least 0, got -1");
        bad("delegates", "xnnpack,npu", "unknown delegate 'npu': expected xnnpack, cpu or gpu");
        bad("delegates", ",", "threads and delegates need at least one value each");
        bad("thread", "2", "unknown option 'thread': expected one of models, threads, delegates, runs, warmup, run_id");
        bad("run_id", "../x", "run_id must be 1-64 letters, digits, '.', '_' or '-', got '../x'");
        bad("models", "dir/a.tflite", "models are file names in the app's models folder, not paths: dir/a.tflite");
    }

    private static void bad(String key, String value, String message) {
        try {
            Options.parse(Collections.singletonMap(key, value));
            fail("expected an error for " + key + "=" + value);
        } catch (IllegalArgumentException e) {
            assertEquals(message, e.getMessage());
        }
    }
}
