package dev.litetf.bench;

/** A clock that moves only when told: timings in tests are exact. */
final class FakeClock implements Clock {
    long now = 1_000_000_000L;

    @Override
    public long nanoTime() {
        return now;
    }

    void advanceMillis(double millis) {
        now += Math.round(millis * 1e6);
    }
}
