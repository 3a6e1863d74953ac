package dev.vhostnet.bench;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * A linear axis from 0 to a round {@code top} at or above the largest value drawn, in round
 * {@code step}s (1, 2, 2.5 or 5 times a power of ten: three to five of them up to the top).
 */
record ChartScale(double top, double step) {

    /** The scale that holds {@code max}; 0 to 1 when there is nothing above 0 to hold. */
    static ChartScale holding(double max) {
        if (!(max > 0) || Double.isInfinite(max)) {
            return new ChartScale(1, 0.25);
        }
        double least = max / 5;
        double power = Math.pow(10, Math.floor(Math.log10(least)));
        double step = 10 * power;
        for (double m : new double[] {1, 2, 2.5, 5}) {
            if (m * power >= least) {
                step = m * power;
                break;
            }
        }
        return new ChartScale(Math.ceil(max / step) * step, step);
    }

    /** The values that get a grid line and a label: 0, step, 2·step … top. */
    List<Double> ticks() {
        List<Double> ticks = new ArrayList<>();
        long n = Math.round(top / step);
        for (long i = 0; i <= n; i++) {
            ticks.add(i * step);
        }
        return ticks;
    }

    /** {@code v} in the unit (k, M, G) of the top, to at most three decimals: "1.25M", "0". */
    String label(double v) {
        double unit = top >= 1e9 ? 1e9 : top >= 1e6 ? 1e6 : top >= 1e3 ? 1e3 : 1;
        String suffix = unit == 1e9 ? "G" : unit == 1e6 ? "M" : unit == 1e3 ? "k" : "";
        BigDecimal scaled =
                BigDecimal.valueOf(v / unit).setScale(3, RoundingMode.HALF_UP).stripTrailingZeros();
        return scaled.signum() == 0 ? "0" : scaled.toPlainString() + suffix;
    }
}
