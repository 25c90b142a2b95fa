package dev.litetf.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class SessionTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private FakeBackend backend;
    private JsonSchema schema;
    private final Device phone = new Device("Pixel 8", "Android 14 (API 34)", "Tensor G3", 9);

    @Before
    public void setUp() throws Exception {
        backend = new FakeBackend(new FakeClock());
        backend.unsupported.add(Delegate.GPU);
        String path = System.getProperty("litetf.schema", "../../lite_tf/deploy/benchmark/schema.json");
        schema = new JsonSchema(new JSONObject(new String(Samples.readAll(new File(path)), StandardCharsets.UTF_8)));
    }

    private JSONObject session(List<String> events) throws Exception {
        File a = TestFiles.model(tmp.getRoot(), "a_int8.tflite", 100);
        TestFiles.samples(a, 2, 0.5f, new int[] {3, 4}, new int[] {3, 3},
                new byte[][] {first(3, 16), first(5, 16)});
        File b = TestFiles.model(tmp.getRoot(), "b_int8.tflite", 200);
        File broken = TestFiles.write(tmp.newFile("broken.tflite"), "not a model".getBytes(StandardCharsets.UTF_8));
        Map<String, String> extras = new HashMap<>();
        extras.put("threads", "1,2");
        extras.put("delegates", "xnnpack,gpu");
        extras.put("runs", "3");
        return Session.run(backend, new Runner(new FakeClock(), 0, 0, new FakeMemory(true, 0L, 4096L)), phone,
                Arrays.asList(a, b, broken), Options.parse(extras),
                (index, total, model, delegate, threads) ->
                        events.add(index + "/" + total + " " + model.getName() + " " + delegate + " " + threads));
    }

    @Test
    public void errorsOfTheRuntimeAreEntriesAndTheRestGoOn() throws Exception {
        backend.unsupported.clear();
        backend.errors.put(Delegate.GPU, new UnsatisfiedLinkError("dlopen failed: library \"libOpenCL.so\" not found"));
        backend.errors.put(Delegate.CPU, new OutOfMemoryError("Failed to allocate a 268435472 byte allocation"));
        File a = TestFiles.model(tmp.getRoot(), "a_int8.tflite", 100);
        Map<String, String> extras = new HashMap<>();
        extras.put("delegates", "gpu,cpu,xnnpack");
        JSONObject doc = Session.run(backend, new Runner(new FakeClock(), 0, 0, new FakeMemory(false, null, null)),
                phone, Arrays.asList(a), Options.parse(extras), (index, total, model, delegate, threads) -> { });
        assertEquals(1, doc.getJSONArray("results").length());
        assertEquals("XNNPACK", doc.getJSONArray("results").getJSONObject(0).getString("delegate"));
        JSONArray errors = doc.getJSONArray("errors");
        assertEquals("dlopen failed: library \"libOpenCL.so\" not found", errors.getJSONObject(0).getString("error"));
        assertEquals("Failed to allocate a 268435472 byte allocation", errors.getJSONObject(1).getString("error"));
        assertNull(schema.check(doc));
    }

    @Test
    public void everyModelDelegateAndThreadCountIsAResultOrAnError() throws Exception {
        List<String> events = new ArrayList<>();
        JSONObject doc = session(events);
        assertEquals(Arrays.asList(
                "0/9 a_int8.tflite XNNPACK 1", "1/9 a_int8.tflite XNNPACK 2", "2/9 a_int8.tflite GPU 1",
                "3/9 b_int8.tflite XNNPACK 1", "4/9 b_int8.tflite XNNPACK 2", "5/9 b_int8.tflite GPU 1",
                "6/9 broken.tflite XNNPACK 1", "7/9 broken.tflite XNNPACK 2", "8/9 broken.tflite GPU 1"), events);
        JSONArray results = doc.getJSONArray("results");
        assertEquals(4, results.length());
        JSONObject first = results.getJSONObject(0);
        assertEquals("a_int8", first.getString("model"));
        assertEquals(0.5, first.getDouble("agreement"), 0);  // predicted 3 and 5, the host 3 and 4
        assertEquals(2, first.getInt("samples"));
        JSONObject noSamples = results.getJSONObject(2);
        assertEquals("b_int8", noSamples.getString("model"));
        assertTrue(noSamples.isNull("agreement"));
        assertTrue(noSamples.isNull("top1"));
        JSONArray errors = doc.getJSONArray("errors");
        assertEquals(5, errors.length());
        assertEquals("GPU delegate is not supported on this device", errors.getJSONObject(0).getString("error"));
        assertEquals("broken.tflite is not a TFLite model", errors.getJSONObject(2).getString("error"));
        assertEquals("android", doc.getJSONObject("device").getString("kind"));
        assertEquals("fake", doc.getJSONObject("device").getJSONObject("runtime").getString("name"));
    }

    @Test
    public void documentValidatesAgainstThePythonSchema() throws Exception {
        JSONObject doc = session(new ArrayList<>());
        assertNull(schema.check(doc));
        // and the check can fail: a missing figure, an extra field, an unknown delegate
        JSONObject result = doc.getJSONArray("results").getJSONObject(0);
        result.put("delegate", "NPU");
        assertEquals("$.results[0].delegate: NPU is not one of [\"XNNPACK\",\"CPU\",\"GPU\"]", schema.check(doc));
        result.put("delegate", "XNNPACK").remove("p50_ms");
        assertEquals("$.results[0]: missing 'p50_ms'", schema.check(doc));
        result.put("p50_ms", 1.0).put("latency", 1.0);
        assertEquals("$.results[0]: unexpected 'latency'", schema.check(doc));
        result.remove("latency");
        doc.put("schema", "lite_tf.benchmark/1");  // an older app's, whose memory figure meant another thing
        assertEquals("$.schema: expected lite_tf.benchmark/2", schema.check(doc));
    }

    @Test
    public void writesTheWholeFileOrNothing() throws Exception {
        JSONObject doc = session(new ArrayList<>());
        File out = new File(tmp.newFolder("results"), "run1.json");
        Session.write(doc, out);
        JSONObject read = new JSONObject(new String(Samples.readAll(out), StandardCharsets.UTF_8));
        assertEquals(4, read.getJSONArray("results").length());
        assertEquals(doc.getJSONArray("results").getJSONObject(3).getDouble("p50_ms"),
                read.getJSONArray("results").getJSONObject(3).getDouble("p50_ms"), 0);
        assertEquals(Arrays.asList("run1.json"), Arrays.asList(out.getParentFile().list()));
        assertFalse(new File(out.getParentFile(), ".run1.json.partial").exists());
    }

    private static byte[] first(int value, int size) {
        byte[] input = new byte[size];
        input[0] = (byte) value;
        return input;
    }
}
