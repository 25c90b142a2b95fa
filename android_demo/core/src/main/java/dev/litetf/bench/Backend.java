package dev.litetf.bench;

import java.io.File;

/** The inference runtime the benchmark drives: LiteRT on the phone (the app's LiteRtBackend), a
 *  fake in tests. Kept this small so everything else is plain, testable Java. */
public interface Backend {
    /** Name and version written to the results' {@code device.runtime}. */
    String runtimeName();

    String runtimeVersion();

    /** Loads a .tflite file ready to run: interpreter created, delegate applied, tensors allocated. */
    Model load(File model, Delegate delegate, int threads) throws Exception;

    /** A loaded model with one input and one output tensor. */
    interface Model extends AutoCloseable {
        /** "float32", "int8" or "uint8". */
        String inputType();

        int inputBytes();

        /** Copies one input, laid out as the input tensor (little-endian values). */
        void setInput(byte[] input);

        /** One inference on the current input. */
        void run() throws Exception;

        /** Index of the largest output after the last run. */
        int top1();

        @Override
        void close();
    }
}
