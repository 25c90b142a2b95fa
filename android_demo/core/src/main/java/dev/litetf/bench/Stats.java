package dev.litetf.bench;

import java.util.Arrays;

/** Summary statistics of timings, computed as numpy does for the host benchmark (population std,
 *  linearly interpolated percentiles), so phone and host figures mean the same thing. */
public final class Stats {
    public final double mean;
    public final double std;
    public final double p50;
    public final double p90;
    public final double p99;

    private Stats(double mean, double std, double p50, double p90, double p99) {
        this.mean = mean;
        this.std = std;
        this.p50 = p50;
        this.p90 = p90;
        this.p99 = p99;
    }

    public static Stats of(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        double sum = 0;
        for (double v : values) {
            sum += v;
        }
        double mean = sum / values.length;
        double squares = 0;
        for (double v : values) {
            squares += (v - mean) * (v - mean);
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return new Stats(mean, Math.sqrt(squares / values.length), percentile(sorted, 50),
                percentile(sorted, 90), percentile(sorted, 99));
    }

    /** numpy.percentile's default ('linear'): rank p/100 * (n - 1) between the sorted values. */
    static double percentile(double[] sorted, double p) {
        double rank = p / 100 * (sorted.length - 1);
        int below = (int) Math.floor(rank);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (rank - below) * (sorted[above] - sorted[below]);
    }
}
