package dev.litetf.bench;

import java.io.DataInputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The evaluation samples {@code python -m export} writes beside a model ({@code <model>.samples},
 * lite_tf/deploy/samples.py): inputs exactly as the model's input tensor takes them, the host's top-1
 * prediction and the label of each, and the model's host top-1. Little-endian: "LTFS", version 1,
 * count, bytes per sample, classes, dtype code (1 float32, 2 int8, 3 uint8), host top-1 (float32,
 * NaN if unknown), count int32 predictions, count int32 labels, the samples.
 */
public final class Samples {
    private static final int HEADER_BYTES = 28;
    private static final String[] DTYPES = {null, "float32", "int8", "uint8"};

    public final int numClasses;
    public final String inputType;
    /** The model's top-1 on the host's whole evaluation split, or null. */
    public final Double hostTop1;
    public final int[] predictions;
    public final int[] labels;
    public final byte[][] inputs;

    private Samples(int numClasses, String inputType, Double hostTop1, int[] predictions, int[] labels,
                    byte[][] inputs) {
        this.numClasses = numClasses;
        this.inputType = inputType;
        this.hostTop1 = hostTop1;
        this.predictions = predictions;
        this.labels = labels;
        this.inputs = inputs;
    }

    /** The samples file beside a model ({@code m.tflite -> m.samples}). */
    public static File besides(File model) {
        String name = model.getName();
        int dot = name.lastIndexOf('.');
        return new File(model.getParentFile(), (dot > 0 ? name.substring(0, dot) : name) + ".samples");
    }

    public static Samples read(File file) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(readAll(file)).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        if (buffer.remaining() >= HEADER_BYTES) {
            buffer.get(magic);
        }
        if (!"LTFS".equals(new String(magic, StandardCharsets.US_ASCII))) {
            throw new IOException(file.getName() + " is not a lite_tf samples file");
        }
        int version = buffer.getInt();
        int count = buffer.getInt();
        int size = buffer.getInt();
        int classes = buffer.getInt();
        int dtype = buffer.getInt();
        float top1 = buffer.getFloat();
        if (version != 1 || dtype < 1 || dtype >= DTYPES.length) {
            throw new IOException(file.getName() + ": samples version " + version + ", dtype " + dtype
                    + ": not readable by this app");
        }
        if (count < 0 || size < 0 || buffer.remaining() != 8L * count + (long) count * size) {
            throw new IOException(file.getName() + " is truncated or corrupt");
        }
        int[] predictions = new int[count];
        int[] labels = new int[count];
        buffer.asIntBuffer().get(predictions);
        buffer.position(buffer.position() + 4 * count);
        buffer.asIntBuffer().get(labels);
        buffer.position(buffer.position() + 4 * count);
        byte[][] inputs = new byte[count][size];
        for (byte[] input : inputs) {
            buffer.get(input);
        }
        return new Samples(classes, DTYPES[dtype], Float.isNaN(top1) ? null : (double) top1, predictions,
                labels, inputs);
    }

    /** The whole file (java.nio.file needs API 26; the app supports 24). */
    static byte[] readAll(File file) throws IOException {
        long length = file.length();
        if (length > Integer.MAX_VALUE) {
            throw new IOException(file.getName() + " is too large");
        }
        byte[] content = new byte[(int) length];
        try (DataInputStream in = new DataInputStream(new FileInputStream(file))) {
            in.readFully(content);
        }
        return content;
    }
}
