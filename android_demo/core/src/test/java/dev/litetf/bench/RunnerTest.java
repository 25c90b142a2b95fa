package dev.litetf.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class RunnerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private FakeClock clock;
    private FakeBackend backend;
    private File model;

    @Before
    public void setUp() throws Exception {
        clock = new FakeClock();
        backend = new FakeBackend(clock);
        model = TestFiles.model(tmp.getRoot(), "net_int8.tflite", 1000);
    }

    @Test
    public void timesInitFirstRunAndTheTimedRunsExactly() throws Exception {
        backend.runMillis = new double[] {1, 2, 3, 4, 10};  // first run 1; warm-up 2, 3; timed 4 10 1 2 3
        Runner runner = new Runner(clock, 0, 0, new FakeMemory(true, 1000L, 1123L));
        Result r = runner.measure(backend, model, Delegate.XNNPACK, 2, 5, 2, null);
        assertEquals("net_int8", r.model);
        assertEquals(model.getAbsolutePath(), r.path);
        assertEquals(1000, r.sizeBytes);
        assertEquals(2, r.threads);
        assertEquals(5, r.runs);
        assertEquals(2, r.warmup);
        assertEquals(5.0, r.initMs, 1e-9);
        assertEquals(1.0, r.firstInferenceMs, 1e-9);
        assertEquals(4.0, r.stats.mean, 1e-9);
        assertEquals(7.6, r.stats.p90, 1e-9);
        assertEquals(Math.sqrt(10), r.stats.std, 1e-9);
        assertEquals(8, backend.runCalls);
        assertEquals("the high-water mark less the resident memory at the reset", Long.valueOf(123), r.modelMemoryBytes);
        assertNull(r.agreement);
        assertNull(r.top1);
        assertTrue("the model is closed", backend.closed);
    }

    @Test
    public void warmsUpHalfASecondAndTimesAtLeastOneSecond() throws Exception {
        backend.runMillis = new double[] {2};
        Result r = new Runner(clock, Runner.WARMUP_SECONDS, Runner.MIN_SECONDS,
                new FakeMemory(false, 5000L, 9000L))
                .measure(backend, model, Delegate.CPU, 1, 10, 3, null);
        assertEquals(500, r.runs);  // 10 asked for, but 1 s of 2 ms runs
        assertEquals(1 + 250 + 500, backend.runCalls);
        assertNull("no reset: the whole process's high-water mark is not the model's", r.modelMemoryBytes);
    }

    @Test
    public void countsAgreementWithTheHostOnTheSamples() throws Exception {
        // FakeBackend predicts an input's first byte; the host predicted 0 1 2 3.
        byte[][] inputs = {input(0), input(1), input(2), input(9)};
        TestFiles.samples(model, 2, 0.875f, new int[] {0, 1, 2, 3}, new int[] {0, 1, 2, 2}, inputs);
        Samples samples = Samples.read(Samples.besides(model));
        Result r = new Runner(clock, 0, 0, new FakeMemory(false, null, null)).measure(backend, model, Delegate.XNNPACK, 1, 3, 0, samples);
        assertEquals(4, r.samples);
        assertEquals(0.75, r.agreement, 1e-12);
        assertEquals(0.875, r.top1, 1e-7);
        assertEquals(1 + 3 + 4, backend.runCalls);
    }

    @Test
    public void samplesOfAnotherModelAreAnError() throws Exception {
        TestFiles.samples(model, 2, Float.NaN, new int[] {0}, new int[] {0}, new byte[][] {new byte[8]});
        try {
            new Runner(clock, 0, 0, new FakeMemory(false, null, null)).measure(backend, model, Delegate.XNNPACK, 1, 3, 0,
                    Samples.read(Samples.besides(model)));
            fail("expected an error");
        } catch (IllegalArgumentException e) {
            assertEquals("net_int8.tflite: its samples are 8 bytes of int8 but the model takes 16 bytes of int8 "
                    + "(export the samples with this model)", e.getMessage());
        }
        assertTrue(backend.closed);
    }

    @Test
    public void randomFloatInputIsInMinusOneToOne() {
        backend.inputType = "float32";
        backend.inputBytes = 4 * 1000;
        byte[] input = Runner.randomInput(backend.model());
        ByteBuffer b = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
        float min = 1, max = -1;
        while (b.remaining() > 0) {
            float v = b.getFloat();
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertTrue(min >= -1 && min < -0.9 && max < 1 && max > 0.9);
    }

    private static byte[] input(int first) {
        byte[] input = new byte[16];
        input[0] = (byte) first;
        return input;
    }
}
