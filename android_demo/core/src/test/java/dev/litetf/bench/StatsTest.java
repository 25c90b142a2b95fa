package dev.litetf.bench;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class StatsTest {
    private static final double EPS = 1e-12;

    @Test
    public void fiveValuesByHand() {
        double[] values = {10, 2, 4, 1, 3};
        Stats s = Stats.of(values);
        assertEquals(4.0, s.mean, EPS);
        // population std: sqrt((36 + 4 + 0 + 9 + 1) / 5) = sqrt(10)
        assertEquals(Math.sqrt(10), s.std, EPS);
        assertEquals(3.0, s.p50, EPS);  // sorted 1 2 3 4 10, rank 2
        assertEquals(7.6, s.p90, EPS);  // rank 3.6: 4 + 0.6 * (10 - 4)
        assertEquals(9.76, s.p99, EPS); // rank 3.96: 4 + 0.96 * 6
        assertArrayEquals(new double[] {10, 2, 4, 1, 3}, values, 0);  // input left unsorted
    }

    @Test
    public void twoValuesInterpolate() {
        Stats s = Stats.of(new double[] {4, 2});
        assertEquals(3.0, s.mean, EPS);
        assertEquals(1.0, s.std, EPS);
        assertEquals(3.0, s.p50, EPS);
        assertEquals(3.8, s.p90, EPS);
        assertEquals(3.98, s.p99, EPS);
    }

    @Test
    public void oneValueIsEveryPercentile() {
        Stats s = Stats.of(new double[] {0.25});
        assertEquals(0.25, s.p50, EPS);
        assertEquals(0.25, s.p99, EPS);
        assertEquals(0.0, s.std, EPS);
    }

    @Test(expected = IllegalArgumentException.class)
    public void noValuesIsAnError() {
        Stats.of(new double[0]);
    }
}
