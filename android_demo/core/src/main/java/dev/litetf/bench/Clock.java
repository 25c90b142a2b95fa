package dev.litetf.bench;

/** A monotonic clock in nanoseconds; tests pass a fake one. */
public interface Clock {
    long nanoTime();

    Clock SYSTEM = System::nanoTime;
}
