package dev.litetf.bench;

import java.io.BufferedReader;
import java.io.FileReader;
import java.io.IOException;

/** Peak resident memory of this process, as the host benchmark reports it (Linux and Android). */
public final class Memory {
    private Memory() {
    }

    /** VmHWM from /proc/self/status in bytes, or null where there is none. */
    public static Long peakRssBytes() {
        try (BufferedReader reader = new BufferedReader(new FileReader("/proc/self/status"))) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (line.startsWith("VmHWM:")) {
                    return 1024 * Long.parseLong(line.substring(6).replace("kB", "").trim());
                }
            }
        } catch (IOException | NumberFormatException e) {
            return null;
        }
        return null;
    }
}
