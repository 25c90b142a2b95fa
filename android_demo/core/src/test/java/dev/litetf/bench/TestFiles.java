package dev.litetf.bench;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Files the tests write: model-like files and samples in lite_tf/deploy/samples.py's format. */
final class TestFiles {
    private TestFiles() {
    }

    /** A file LiteRT (and FakeBackend) would take for a model: "TFL3" at byte 4, then padding. */
    static File model(File dir, String name, int size) throws IOException {
        byte[] content = new byte[size];
        content[4] = 'T';
        content[5] = 'F';
        content[6] = 'L';
        content[7] = '3';
        return write(new File(dir, name), content);
    }

    static File samples(File model, int dtype, float top1, int[] predictions, int[] labels, byte[][] inputs)
            throws IOException {
        int size = inputs.length == 0 ? 0 : inputs[0].length;
        ByteBuffer b = ByteBuffer.allocate(28 + 8 * inputs.length + inputs.length * size)
                .order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {'L', 'T', 'F', 'S'}).putInt(1).putInt(inputs.length).putInt(size).putInt(10)
                .putInt(dtype).putFloat(top1);
        for (int p : predictions) {
            b.putInt(p);
        }
        for (int l : labels) {
            b.putInt(l);
        }
        for (byte[] input : inputs) {
            b.put(input);
        }
        return write(Samples.besides(model), b.array());
    }

    static File write(File file, byte[] content) throws IOException {
        try (FileOutputStream out = new FileOutputStream(file)) {
            out.write(content);
        }
        return file;
    }
}
