package dev.vhostnet.bench;

/**
 * Flow control between a sender and the far end's counter: at most {@code size} packets in flight.
 * A packet the far end never counts (dropped on the way) would close the window for good, so when
 * the counter has not moved for {@value #STALL_MILLIS} ms what is in flight is written off as lost
 * and the window opens again. One thread.
 */
final class Window {
    static final long STALL_MILLIS = 200;

    private final int size;
    private long writtenOff;
    private long lastSeen = -1;
    private long lastProgress;

    Window(int size) {
        this.size = size;
        this.lastProgress = System.nanoTime();
    }

    /** The far end's count at which half the window is open again, after {@code sent} packets. */
    long halfOpenAt(long sent) {
        return sent - writtenOff - size / 2;
    }

    /** How many more packets may be sent now (0: wait). */
    int room(long sent, long received) {
        long inFlight = sent - received - writtenOff;
        if (inFlight < size) {
            return (int) (size - inFlight);
        }
        long now = System.nanoTime();
        if (received != lastSeen) {
            lastSeen = received;
            lastProgress = now;
        } else if (now - lastProgress > STALL_MILLIS * 1_000_000L) {
            writtenOff += inFlight;
            lastProgress = now;
            return size;
        }
        return 0;
    }
}
