package dev.litetf.demo;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.TensorFlowLite;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;

import dev.litetf.bench.Backend;
import dev.litetf.bench.Delegate;

/** The benchmark's Backend on LiteRT's Interpreter: XNNPACK or built-in CPU kernels with N
 *  threads, or the GPU delegate. */
final class LiteRtBackend implements Backend {
    @Override
    public String runtimeName() {
        return "litert";
    }

    @Override
    public String runtimeVersion() {
        return TensorFlowLite.runtimeVersion();
    }

    @Override
    public Model load(File file, Delegate delegate, int threads) {
        Interpreter.Options options = new Interpreter.Options().setNumThreads(threads);
        GpuDelegate gpu = null;
        switch (delegate) {
            case XNNPACK:
                options.setUseXNNPACK(true);
                break;
            case CPU:
                options.setUseXNNPACK(false);
                break;
            case GPU:
                CompatibilityList compatibility = new CompatibilityList();
                try {
                    if (!compatibility.isDelegateSupportedOnThisDevice()) {
                        throw new UnsupportedOperationException("the GPU delegate does not support this device");
                    }
                } finally {
                    compatibility.close();
                }
                gpu = new GpuDelegate();
                options.addDelegate(gpu);
                break;
        }
        try {
            Interpreter interpreter = new Interpreter(file, options);
            interpreter.allocateTensors();
            return new LiteRtModel(interpreter, gpu);
        } catch (RuntimeException e) {
            if (gpu != null) {
                gpu.close();
            }
            throw e;
        }
    }

    private static final class LiteRtModel implements Model {
        private final Interpreter interpreter;
        private final GpuDelegate gpu;
        private final Tensor inputTensor;
        private final Tensor outputTensor;
        private final ByteBuffer input;
        private final ByteBuffer output;

        LiteRtModel(Interpreter interpreter, GpuDelegate gpu) {
            this.interpreter = interpreter;
            this.gpu = gpu;
            inputTensor = interpreter.getInputTensor(0);
            outputTensor = interpreter.getOutputTensor(0);
            // Samples are little-endian, as every Android ABI is.
            input = ByteBuffer.allocateDirect(inputTensor.numBytes()).order(ByteOrder.nativeOrder());
            output = ByteBuffer.allocateDirect(outputTensor.numBytes()).order(ByteOrder.nativeOrder());
        }

        @Override
        public String inputType() {
            return typeName(inputTensor.dataType());
        }

        @Override
        public int inputBytes() {
            return inputTensor.numBytes();
        }

        @Override
        public void setInput(byte[] value) {
            input.clear();
            input.put(value);
        }

        @Override
        public void run() {
            input.rewind();
            output.rewind();
            interpreter.run(input, output);
        }

        @Override
        public int top1() {
            DataType type = outputTensor.dataType();
            int count = outputTensor.numElements();
            int best = 0;
            double bestValue = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < count; i++) {
                double value;
                if (type == DataType.FLOAT32) {
                    value = output.getFloat(4 * i);
                } else if (type == DataType.INT8) {
                    value = output.get(i);  // scale > 0: the argmax of the quantized values
                } else if (type == DataType.UINT8) {
                    value = output.get(i) & 0xff;
                } else {
                    throw new UnsupportedOperationException("output type " + type + " is not supported");
                }
                if (value > bestValue) {
                    bestValue = value;
                    best = i;
                }
            }
            return best;
        }

        @Override
        public void close() {
            interpreter.close();
            if (gpu != null) {
                gpu.close();
            }
        }

        private static String typeName(DataType type) {
            if (type == DataType.FLOAT32) {
                return "float32";
            } else if (type == DataType.INT8) {
                return "int8";
            } else if (type == DataType.UINT8) {
                return "uint8";
            }
            throw new UnsupportedOperationException("input type " + type + " is not supported");
        }
    }
}
