package dev.vhostnet.bench;

import java.util.function.LongSupplier;

/**
 * A count of packets at the far end of a window, which the sender reads and may wait on. On one
 * CPU a sender that spins while its window is closed only delays the thread it waits for, and the
 * CPU it burns is counted as CPU per packet: there the sender waits ({@link Loops#BLOCKING}).
 */
interface PacketCount extends LongSupplier {
    /** Waits until the count reaches {@code target}, at most {@code nanos} (one waiting thread at a time). */
    void await(long target, long nanos);

    /** This count less {@code base}: what a repetition that started at {@code base} counted. */
    default PacketCount since(long base) {
        PacketCount whole = this;
        return new PacketCount() {
            @Override
            public long getAsLong() {
                return whole.getAsLong() - base;
            }

            @Override
            public void await(long target, long nanos) {
                whole.await(target + base, nanos);
            }
        };
    }

    /** A count kept where nobody can wake a waiter (the C loop's mapped counter): waiting yields. */
    static PacketCount polled(LongSupplier source) {
        return new PacketCount() {
            @Override
            public long getAsLong() {
                return source.getAsLong();
            }

            @Override
            public void await(long target, long nanos) {
                Thread.yield();
            }
        };
    }
}
