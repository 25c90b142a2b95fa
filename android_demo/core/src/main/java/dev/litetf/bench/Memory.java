package dev.litetf.bench;

import java.io.BufferedReader;
import java.io.FileReader;
import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;

/**
 * The memory one measurement adds, measured as the host benchmark measures it (Linux and Android):
 * the process's high-water mark is reset just before the model is loaded (5 written to
 * {@code /proc/self/clear_refs}, Linux 4.0+), and the figure is the high-water mark (VmHWM) after
 * the timed runs minus the resident memory (VmRSS) at the reset: what the interpreter, the model,
 * its tensors and the delegate took. Where the kernel refuses the reset the figure is null: the
 * high-water mark alone would be the whole long-lived app's, models measured before included.
 */
public final class Memory {
    /** Where the figures come from: {@link #PROC} on the device, a fake in tests. */
    public interface Probe {
        /** Resets the high-water mark to the current resident memory; false if not allowed. */
        boolean resetPeak();

        /** VmRSS in bytes, or null. */
        Long residentBytes();

        /** VmHWM in bytes, or null. */
        Long peakBytes();
    }

    public static final Probe PROC = new Probe() {
        @Override
        public boolean resetPeak() {
            try (Writer out = new FileWriter("/proc/self/clear_refs")) {
                out.write("5");
                return true;
            } catch (IOException | SecurityException e) {
                return false;
            }
        }

        @Override
        public Long residentBytes() {
            return status("VmRSS:");
        }

        @Override
        public Long peakBytes() {
            return status("VmHWM:");
        }
    };

    private final Probe probe;
    private final Long base;

    private Memory(Probe probe, Long base) {
        this.probe = probe;
        this.base = base;
    }

    /** Starts a measurement: resets the high-water mark and notes the resident memory. */
    public static Memory start(Probe probe) {
        return new Memory(probe, probe.resetPeak() ? probe.residentBytes() : null);
    }

    /** The bytes added since {@link #start}, or null where the high-water mark could not be reset. */
    public Long added() {
        Long peak = base == null ? null : probe.peakBytes();
        return peak == null ? null : Math.max(0, peak - base);
    }

    private static Long status(String field) {
        try (BufferedReader reader = new BufferedReader(new FileReader("/proc/self/status"))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.startsWith(field)) {
                    return 1024 * Long.parseLong(line.substring(field.length()).replace("kB", "").trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            return null;
        }
        return null;
    }
}
