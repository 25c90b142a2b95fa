package dev.litetf.bench;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * A runtime that takes a set time per call on a fake clock. Loading checks the file is a TFLite
 * flatbuffer ("TFL3" at byte 4), as LiteRT would; a model "predicts" its input's first byte
 * unless a subclass says otherwise.
 */
class FakeBackend implements Backend {
    final FakeClock clock;
    double loadMillis = 5;
    /** Durations of successive runs, cycled. */
    double[] runMillis = {2};
    String inputType = "int8";
    int inputBytes = 16;
    Set<Delegate> unsupported = EnumSet.noneOf(Delegate.class);
    /** Errors (not exceptions) loading with a delegate throws, as a missing native library or no memory. */
    Map<Delegate, Error> errors = new EnumMap<>(Delegate.class);
    int runCalls;
    int loads;
    boolean closed;

    FakeBackend(FakeClock clock) {
        this.clock = clock;
    }

    @Override
    public String runtimeName() {
        return "fake";
    }

    @Override
    public String runtimeVersion() {
        return "0.0";
    }

    @Override
    public Model load(File file, Delegate delegate, int threads) throws IOException {
        byte[] head = new byte[8];
        try (FileInputStream in = new FileInputStream(file)) {
            if (in.read(head) != 8 || head[4] != 'T' || head[5] != 'F' || head[6] != 'L' || head[7] != '3') {
                throw new IOException(file.getName() + " is not a TFLite model");
            }
        }
        if (errors.containsKey(delegate)) {
            throw errors.get(delegate);
        }
        if (unsupported.contains(delegate)) {
            throw new UnsupportedOperationException(delegate + " delegate is not supported on this device");
        }
        loads++;
        clock.advanceMillis(loadMillis);
        return model();
    }

    /** What a model "predicts" for an input: its first byte. */
    int predict(byte[] input) {
        return input[0];
    }

    /** A loaded model, without the file checks. */
    Model model() {
        return new Model() {
            byte[] input = new byte[inputBytes];

            @Override
            public String inputType() {
                return inputType;
            }

            @Override
            public int inputBytes() {
                return inputBytes;
            }

            @Override
            public void setInput(byte[] value) {
                input = value.clone();
            }

            @Override
            public void run() {
                clock.advanceMillis(runMillis[runCalls++ % runMillis.length]);
            }

            @Override
            public int top1() {
                return predict(input);
            }

            @Override
            public void close() {
                closed = true;
            }
        };
    }
}
