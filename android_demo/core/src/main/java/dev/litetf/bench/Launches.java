package dev.litetf.bench;

import java.util.HashSet;
import java.util.Set;

/**
 * At most one headless benchmark per run id in a process. Android runs an activity's onCreate again
 * when the phone is rotated or the system re-creates the activity (with its saved state); the
 * activity must then go on showing the run already going, not start a second one with the same id.
 */
public final class Launches {
    /** The app process's. */
    public static final Launches PROCESS = new Launches();

    private final Set<String> started = new HashSet<>();

    /** Whether to start {@code runId} now: never for a re-created activity, once per id otherwise. */
    public synchronized boolean first(String runId, boolean recreated) {
        return !recreated && started.add(runId);
    }
}
