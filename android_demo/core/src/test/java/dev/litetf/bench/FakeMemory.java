package dev.litetf.bench;

/** A {@link Memory.Probe} with set figures: resident {@code rss}, high-water mark {@code peak}. */
final class FakeMemory implements Memory.Probe {
    final boolean resettable;
    final Long rss;
    final Long peak;
    int resets;

    FakeMemory(boolean resettable, Long rss, Long peak) {
        this.resettable = resettable;
        this.rss = rss;
        this.peak = peak;
    }

    @Override
    public boolean resetPeak() {
        resets++;
        return resettable;
    }

    @Override
    public Long residentBytes() {
        return rss;
    }

    @Override
    public Long peakBytes() {
        return peak;
    }
}
