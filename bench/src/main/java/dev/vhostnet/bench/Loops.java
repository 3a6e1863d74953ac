package dev.vhostnet.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/**
 * The guest side of the three workloads, over any {@link GuestPort}: the same code for the driver
 * on either backend and for the raw Java tap loop. Each returns what its thread did.
 */
final class Loops {
    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /**
     * Whether waits block instead of spinning first: on one CPU (the test VM's bench), where a
     * spinning thread only delays the one it waits for and its CPU counts as CPU per packet.
     */
    static final boolean BLOCKING = Runtime.getRuntime().availableProcessors() == 1;

    private static final int BATCH = 32;
    private static final int SPINS = BLOCKING ? 0 : 200;
    private static final long WAIT_NANOS = 1_000_000L;
    private static final long REPLY_TIMEOUT_NANOS = 1_000_000_000L;

    private Loops() {}

    /** What one guest thread did in a repetition. */
    record Result(long sent, long received, long cpuNanos, long allocBytes, long[] latencies, int latencyCount) {}

    static long allocated() {
        return ((com.sun.management.ThreadMXBean) THREADS).getCurrentThreadAllocatedBytes();
    }

    /**
     * TX: sends the prepared frame in batches, at most {@code window} in flight against
     * {@code delivered} (the sink's count; window 0: no window, only the ring holds the sender back,
     * as a guest's driver is), until {@code limit} (0: none) or {@code deadline}.
     */
    static Result tx(GuestPort port, int window, PacketCount delivered, long limit, long deadline) throws Exception {
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long alloc0 = allocated();
        Window flow = window == 0 ? null : new Window(window);
        long sent = 0;
        PacketCount far = delivered.since(delivered.getAsLong());
        int spins = 0;
        while ((limit == 0 || sent < limit) && System.nanoTime() < deadline) {
            int room = flow == null ? BATCH : flow.room(sent, far.getAsLong());
            int n = (int) Math.min(Math.min(room, BATCH), limit == 0 ? BATCH : limit - sent);
            int queued = n == 0 ? 0 : port.send(n);
            if (queued > 0) {
                port.flush();
                sent += queued;
                spins = 0;
            } else if (room == 0 && BLOCKING) {
                far.await(flow.halfOpenAt(sent), WAIT_NANOS);
            } else if (++spins > SPINS) {
                Thread.yield();
            } else {
                Thread.onSpinWait();
            }
        }
        return new Result(sent, 0, THREADS.getCurrentThreadCpuTime() - cpu0, allocated() - alloc0, null, 0);
    }

    /**
     * RX: receives frames of {@code size} bytes, counting them in {@code received}, until
     * {@code stop} says so (it is told when the source stopped and everything sent arrived). When
     * the port runs dry it waits for {@code coalesce} frames, or a millisecond: one interrupt per
     * {@code coalesce} frames at most ({@link GuestPort#awaitReceive}).
     */
    static Result rx(
            GuestPort port, int size, int coalesce, WakingCount received, java.util.function.BooleanSupplier stop)
            throws Exception {
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long alloc0 = allocated();
        long n = 0;
        int spins = 0;
        while (!stop.getAsBoolean()) {
            int len = port.receive();
            if (len >= 0) {
                if (len == size) {
                    n++;
                    received.increment();
                }
                spins = 0;
            } else if (++spins > SPINS) {
                port.awaitReceive(coalesce);
                spins = 0;
            } else {
                Thread.onSpinWait();
            }
        }
        return new Result(0, n, THREADS.getCurrentThreadCpuTime() - cpu0, allocated() - alloc0, null, 0);
    }

    /**
     * RR: sends the prepared frame to the echo and waits for the reply of {@code size} bytes, one
     * at a time, timing each round trip, until {@code limit} (0: none) or {@code deadline}.
     */
    static Result rr(GuestPort port, int size, long limit, long deadline, long[] latencies) throws Exception {
        long cpu0 = THREADS.getCurrentThreadCpuTime();
        long alloc0 = allocated();
        long sent = 0;
        long done = 0;
        int count = 0;
        while ((limit == 0 || done < limit) && System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            while (port.send(1) == 0) {
                Thread.onSpinWait();
            }
            port.flush();
            sent++;
            int spins = 0;
            while (true) {
                int len = port.receive();
                if (len == size) {
                    long rtt = System.nanoTime() - t0;
                    if (count < latencies.length) {
                        latencies[count++] = rtt;
                    }
                    done++;
                    break;
                }
                if (len >= 0) {
                    continue;
                }
                if (System.nanoTime() - t0 > REPLY_TIMEOUT_NANOS) {
                    break;
                }
                if (++spins > SPINS) {
                    port.awaitReceive(1);
                } else {
                    Thread.onSpinWait();
                }
            }
        }
        return new Result(sent, done, THREADS.getCurrentThreadCpuTime() - cpu0, allocated() - alloc0, latencies, count);
    }
}
