package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * Bounds the log lines peers can cause: at most {@code lines} per {@code window}; the rest are
 * counted, and {@link #flush()} (run once per window) reports how many were left out. A flood of
 * refused connections then costs a few lines per window, not one per connection.
 */
final class LogBudget {
    private final Logger log;
    private final String what;
    private final int lines;
    private final long windowNanos;
    private long windowStart;
    private int used;
    private long suppressed;

    LogBudget(Logger log, String what, int lines, Duration window) {
        Preconditions.checkArgument(lines >= 1, "lines must be 1 or more");
        this.log = log;
        this.what = what;
        this.lines = lines;
        this.windowNanos = window.toNanos();
        this.windowStart = System.nanoTime();
    }

    /** Logs at WARN if the window's budget allows it, else counts it. */
    void warn(String format, Object... args) {
        if (take()) {
            log.warn(format, args);
        }
    }

    /** Logs at INFO if the window's budget allows it, else counts it. */
    void info(String format, Object... args) {
        if (take()) {
            log.info(format, args);
        }
    }

    private synchronized boolean take() {
        long now = System.nanoTime();
        if (now - windowStart >= windowNanos) {
            reportSuppressed();
            windowStart = now;
            used = 0;
        }
        if (used < lines) {
            used++;
            return true;
        }
        suppressed++;
        return false;
    }

    /** Reports the lines left out since the last report, if any. */
    synchronized void flush() {
        reportSuppressed();
    }

    private void reportSuppressed() {
        if (suppressed > 0) {
            log.warn(
                    "{} more {} not logged (at most {} lines per {} ms)",
                    suppressed,
                    what,
                    lines,
                    windowNanos / 1_000_000);
            suppressed = 0;
        }
    }
}
