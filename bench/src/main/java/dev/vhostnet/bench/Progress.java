package dev.vhostnet.bench;

import java.io.PrintStream;

/** Where a run reports what it is doing. */
public interface Progress {
    /** A cell started, finished a repetition, or ended; {@code line} says which, in one line. */
    void update(int cell, int cells, String line);

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
