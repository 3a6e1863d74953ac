package dev.vhostnet.bench;

import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.sys.VirtioUapi;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.function.LongSupplier;

/**
 * One path set up for {@code pairs} queue pairs, with its namespace and peer, that runs
 * repetitions: the guest threads ({@link Loops}) on {@link GuestPort}s, CPU read around them.
 */
abstract class Rig implements AutoCloseable {
    @Override
    public abstract void close() throws IOException;

    /** The largest frame RX and RR measure: without guest offloads an RX buffer chain holds an MTU-sized frame. */
    static final int LARGEST_RX = 1514;

    final BenchNet net;
    final Peer peer;
    final int pairs;

    Rig(BenchNet net, Peer peer, int pairs) {
        this.net = net;
        this.peer = peer;
        this.pairs = pairs;
    }

    abstract BenchPath path();

    /** Why this rig cannot measure the cell, or empty when it can. */
    Optional<String> unsupported(Direction direction, int size) {
        if (direction != Direction.TX && size > LARGEST_RX) {
            return Optional.of(
                    direction
                            + " above 1514 bytes needs guest offloads (GUEST_UFO/TSO, big RX buffers) and a 64 KiB MTU on the tap: not measured");
        }
        return Optional.empty();
    }

    /** The guest end of {@code pair}. */
    abstract GuestPort port(int pair);

    /** The device's threads ({@code /proc} directories), or none. */
    List<Path> deviceThreads() {
        return List.of();
    }

    /** The Java thread ids of the device's threads (the emulated backend's event loops), or none. */
    long[] deviceJavaThreads() {
        return new long[0];
    }

    private static long allocated(long[] ids) {
        long total = 0;
        for (long a : ((com.sun.management.ThreadMXBean) Loops.THREADS).getThreadAllocatedBytes(ids)) {
            total += Math.max(0, a);
        }
        return total;
    }

    /** vhost workers outside this process, whose CPU adds to the process's. */
    List<Path> outsideThreads() {
        return List.of();
    }

    /** The header the frames of {@code size} go out behind: UFO above 1514 bytes, else none. */
    static VirtioNetHeader header(int size) {
        if (size <= LARGEST_RX) {
            return VirtioNetHeader.NONE;
        }
        return new VirtioNetHeader(
                VirtioUapi.VIRTIO_NET_HDR_F_NEEDS_CSUM,
                VirtioUapi.VIRTIO_NET_HDR_GSO_UDP,
                Udp.HEADERS,
                1472,
                Udp.ETH_HLEN + Udp.IP_HLEN,
                6,
                0);
    }

    /**
     * One repetition: {@code limit} packets in all (0: until {@code nanos} pass), at most {@code
     * nanos}; TX counted where {@code count} says.
     */
    Rep run(Direction direction, int size, long limit, long nanos, int window, TxCount count) throws Exception {
        // RX: the receive loops start, and take what an earlier repetition left in the rings, before the clock does.
        RxLoops rx = direction == Direction.RX ? new RxLoops(size, window) : null;
        List<Path> dev = deviceThreads();
        List<Path> outside = outsideThreads();
        long dev0 = ThreadCpu.nanos(dev);
        long out0 = ThreadCpu.nanos(outside);
        List<Path> jit = ThreadCpu.jitThreads();
        long jit0 = ThreadCpu.nanos(jit);
        long proc0 = ThreadCpu.process();
        long[] devIds = deviceJavaThreads();
        long alloc0 = allocated(devIds);
        long driverAlloc = 0;
        long t0 = System.nanoTime();
        long deadline = t0 + nanos;
        long perPair = limit == 0 ? 0 : Math.max(1, limit / pairs);
        long packets;
        long sent;
        long end;
        long driverCpu = 0;
        long p50 = 0;
        long p99 = 0;
        switch (direction) {
            case TX -> {
                LongSupplier delivered = delivered(count);
                for (int p = 0; p < pairs; p++) {
                    port(p).prepare(net.txFrame(count, 40000 + p, Peer.SINK_PORT + p, size), header(size));
                }
                int txWindow = count == TxCount.TAP ? 0 : window;
                List<FutureTask<Loops.Result>> tasks = new ArrayList<>();
                for (int p = 0; p < pairs; p++) {
                    int pair = p;
                    tasks.add(start(
                            "bench-tx-" + p, () -> Loops.tx(port(pair), txWindow, peer.sink(pair), perPair, deadline)));
                }
                List<Loops.Result> results = join(tasks);
                sent = results.stream().mapToLong(Loops.Result::sent).sum();
                driverCpu = results.stream().mapToLong(Loops.Result::cpuNanos).sum();
                driverAlloc =
                        results.stream().mapToLong(Loops.Result::allocBytes).sum();
                long[] last = {0};
                end = drain(
                        () -> {
                            last[0] = delivered.getAsLong();
                            return last[0];
                        },
                        sent);
                packets = last[0];
            }
            case RX -> {
                peer.source().start(size, limit, window, rx.received());
                // Without a packet limit nothing ends a repetition before its deadline: sleep through it.
                long pause = limit == 0 ? 50 : 1;
                while (System.nanoTime() < deadline
                        && (limit == 0 || peer.source().sent() < limit)) {
                    Thread.sleep(Math.max(1, Math.min(pause, (deadline - System.nanoTime()) / 1_000_000L)));
                }
                sent = peer.source().stop();
                end = drain(rx.received(), sent);
                List<Loops.Result> results = rx.stop();
                // More than were sent: an earlier repetition's frames came after its drain and this
                // one's settling (TCG stalls); they are not this repetition's.
                packets = Math.min(rx.received().getAsLong(), sent);
                driverCpu = results.stream().mapToLong(Loops.Result::cpuNanos).sum();
                driverAlloc =
                        results.stream().mapToLong(Loops.Result::allocBytes).sum();
            }
            case RR -> {
                List<FutureTask<Loops.Result>> tasks = new ArrayList<>();
                int samples = (int) Math.min(limit > 0 ? perPair : 2_000_000, 2_000_000);
                for (int p = 0; p < pairs; p++) {
                    int pair = p;
                    port(p).prepare(net.frameToHost(41000 + p, Peer.ECHO_PORT + p, size), header(size));
                    tasks.add(start(
                            "bench-rr-" + p, () -> Loops.rr(port(pair), size, perPair, deadline, new long[samples])));
                }
                List<Loops.Result> results = join(tasks);
                end = System.nanoTime();
                sent = results.stream().mapToLong(Loops.Result::sent).sum();
                packets = results.stream().mapToLong(Loops.Result::received).sum();
                driverCpu = results.stream().mapToLong(Loops.Result::cpuNanos).sum();
                driverAlloc =
                        results.stream().mapToLong(Loops.Result::allocBytes).sum();
                int n = results.stream().mapToInt(Loops.Result::latencyCount).sum();
                long[] all = new long[n];
                int at = 0;
                for (Loops.Result r : results) {
                    System.arraycopy(r.latencies(), 0, all, at, r.latencyCount());
                    at += r.latencyCount();
                }
                p50 = Cell.percentile(all, n, 0.50);
                p99 = Cell.percentile(all, n, 0.99);
            }
            default -> throw new IllegalArgumentException(direction.toString());
        }
        long devCpu = ThreadCpu.nanos(dev) - dev0;
        long total = ThreadCpu.process() - proc0 - (ThreadCpu.nanos(jit) - jit0) + ThreadCpu.nanos(outside) - out0;
        long bytes = packets * size * (direction == Direction.RR ? 2L : 1L);
        return new Rep(
                packets,
                bytes,
                sent,
                Math.max(1, end - t0),
                devCpu,
                driverCpu,
                total,
                p50,
                p99,
                allocated(devIds) - alloc0,
                driverAlloc);
    }

    /**
     * The frames of TX delivered since now, all pairs: the sinks' datagrams, or the tap's {@code
     * rx_packets} ({@link BenchNet#tapRxPackets()}).
     */
    LongSupplier delivered(TxCount count) throws IOException {
        if (count == TxCount.TAP) {
            long tap0 = net.tapRxPackets();
            return () -> {
                try {
                    return net.tapRxPackets() - tap0;
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };
        }
        long sunk0 = peer.sunk();
        return () -> peer.sunk() - sunk0;
    }

    /**
     * The RX receive loops of one repetition, one per pair. Frames an earlier repetition left behind
     * (sent, not yet taken when it stopped: under TCG a loop can stall longer than {@link #drain}
     * waits) arrive first; the loops take them until nothing arrives for 200 ms, and they do not count.
     */
    private final class RxLoops {
        private final WakingCount all = new WakingCount();
        private final List<FutureTask<Loops.Result>> tasks = new ArrayList<>();
        private volatile boolean stop;
        private final PacketCount received;

        /**
         * Each receive loop waits for a quarter of its pair's share of the window at a time (at
         * most 32, the driver's batch): the source keeps up to a window in flight, so that many come.
         */
        RxLoops(int size, int window) throws InterruptedException {
            int coalesce = Math.max(1, Math.min(32, window / (4 * pairs)));
            for (int p = 0; p < pairs; p++) {
                int pair = p;
                tasks.add(start("bench-rx-" + p, () -> Loops.rx(port(pair), size, coalesce, all, () -> stop)));
            }
            received = all.since(settle(all));
        }

        /** Frames of this repetition received so far, by all pairs. */
        PacketCount received() {
            return received;
        }

        List<Loops.Result> stop() throws Exception {
            stop = true;
            return join(tasks);
        }
    }

    /** Waits until {@code count} has not moved for 200 ms (at most 5 s); returns it then. */
    static long settle(LongSupplier count) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        long last = count.getAsLong();
        long movedAt = System.nanoTime();
        while (System.nanoTime() - movedAt < 200_000_000L && System.nanoTime() < deadline) {
            Thread.sleep(10);
            long now = count.getAsLong();
            if (now != last) {
                last = now;
                movedAt = System.nanoTime();
            }
        }
        return last;
    }

    /** Waits until {@code count} reaches {@code target} or stops moving for 300 ms; returns when it last moved. */
    static long drain(LongSupplier count, long target) throws InterruptedException {
        long last = count.getAsLong();
        long movedAt = System.nanoTime();
        while (last < target && System.nanoTime() - movedAt < 300_000_000L) {
            Thread.sleep(0, 100_000);
            long now = count.getAsLong();
            if (now != last) {
                last = now;
                movedAt = System.nanoTime();
            }
        }
        return movedAt;
    }

    static <T> FutureTask<T> start(String name, Callable<T> body) {
        FutureTask<T> task = new FutureTask<>(body);
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        return task;
    }

    static <T> List<T> join(List<FutureTask<T>> tasks) throws Exception {
        List<T> out = new ArrayList<>();
        for (FutureTask<T> t : tasks) {
            try {
                out.add(t.get());
            } catch (ExecutionException e) {
                if (e.getCause() instanceof Exception cause) {
                    throw cause;
                }
                throw e;
            }
        }
        return out;
    }
}
