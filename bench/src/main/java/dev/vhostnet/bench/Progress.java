package dev.vhostnet.bench;

import java.io.PrintStream;
import java.util.Locale;

/** Where a run reports what it is doing. */
public interface Progress {
    /** A cell started, finished a repetition, or ended; {@code line} says which, in one line. */
    void update(int cell, int cells, String line);

    /**
     * Repetition {@code r} (from 0) of {@code reps} of cell {@code name} ended, having moved
     * {@code rep}'s packets/s; {@code detail} follows on the same line.
     */
    default void repetition(int cell, int cells, String name, int r, int reps, Rep rep, String detail) {
        update(
                cell,
                cells,
                String.format(
                        Locale.ROOT, "%s: rep %d/%d %,.0f pkt/s%s", name, r + 1, reps, rep.packetsPerSecond(), detail));
    }

    /** The run is over. */
    default void done() {}

    /** Says nothing. */
    static Progress none() {
        return (cell, cells, line) -> {};
    }

    /**
     * On a terminal, one line rewritten in place ({@code \r}); otherwise a line per update, so logs
     * (CI, the test VM's console) show the run as it goes.
     */
    static Progress to(PrintStream out, boolean terminal) {
        return new Progress() {
            private int width;

            @Override
            public void update(int cell, int cells, String line) {
                String text = String.format("[%d/%d] %s", cell, cells, line);
                if (terminal) {
                    out.print("\r" + text + " ".repeat(Math.max(0, width - text.length())));
                    width = text.length();
                } else {
                    out.println(text);
                }
                out.flush();
            }

            @Override
            public void done() {
                if (terminal) {
                    out.println();
                }
            }
        };
    }
}
