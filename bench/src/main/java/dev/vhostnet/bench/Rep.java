package dev.vhostnet.bench;

/**
 * One timed repetition of a cell.
 *
 * @param packets packets delivered to the far end (RR: round trips completed)
 * @param bytes Ethernet frame bytes delivered (RR: both ways)
 * @param sent packets the near end sent
 * @param nanos wall time
 * @param deviceCpuNanos CPU of the threads that are the device: the emulated backend's event loops,
 *        vhost-net's workers; 0 for the raw loops (their only thread is counted as driver)
 * @param driverCpuNanos CPU of the guest-side threads (the driver, or the raw loop)
 * @param totalCpuNanos CPU of this process (or the C program) plus vhost workers outside it
 * @param p50Nanos median round trip (RR only, else 0)
 * @param p99Nanos 99th percentile round trip (RR only, else 0)
 * @param deviceAllocBytes heap bytes the emulated backend's event loops allocated (ThreadMXBean; 0 elsewhere)
 * @param driverAllocBytes heap bytes the guest-side threads allocated (the C loop: 0, not measured)
 */
public record Rep(
        long packets,
        long bytes,
        long sent,
        long nanos,
        long deviceCpuNanos,
        long driverCpuNanos,
        long totalCpuNanos,
        long p50Nanos,
        long p99Nanos,
        long deviceAllocBytes,
        long driverAllocBytes) {

    public double packetsPerSecond() {
        return nanos == 0 ? 0 : packets * 1e9 / nanos;
    }

    public double gbitPerSecond() {
        return nanos == 0 ? 0 : bytes * 8.0 / nanos;
    }

    /** CPU nanoseconds of every thread that worked for the path, per packet. */
    public double totalCpuPerPacket() {
        return packets == 0 ? 0 : (double) totalCpuNanos / packets;
    }

    public long lost() {
        return Math.max(0, sent - packets);
    }
}
