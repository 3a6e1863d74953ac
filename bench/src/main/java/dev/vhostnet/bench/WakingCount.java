package dev.vhostnet.bench;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/** A {@link PacketCount} its counting threads advance, unparking a waiter whose target they reach. */
final class WakingCount implements PacketCount {
    private final AtomicLong value = new AtomicLong();
    private volatile Thread waiter;
    private volatile long wakeAt = Long.MAX_VALUE;

    /** Counts one packet (any thread). */
    void increment() {
        long n = value.incrementAndGet();
        if (n >= wakeAt) {
            Thread w = waiter;
            if (w != null) {
                wakeAt = Long.MAX_VALUE;
                LockSupport.unpark(w);
            }
        }
    }

    @Override
    public long getAsLong() {
        return value.get();
    }

    @Override
    public void await(long target, long nanos) {
        waiter = Thread.currentThread();
        wakeAt = target;
        long deadline = System.nanoTime() + nanos;
        // parkNanos may return early (a permit left by an earlier unpark, or spuriously): park again.
        for (long left = nanos; value.get() < target && left > 0; left = deadline - System.nanoTime()) {
            LockSupport.parkNanos(this, left);
        }
        wakeAt = Long.MAX_VALUE;
        waiter = null;
    }
}
