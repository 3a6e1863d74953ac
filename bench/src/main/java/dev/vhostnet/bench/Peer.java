package dev.vhostnet.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The far end in the namespace behind the tap, on threads of this process that joined it: a
 * sink per queue pair that counts datagrams (TX), an echo per pair (RR), and one source that sends
 * datagrams to the guest from several flows so multiqueue taps spread them (RX).
 */
final class Peer implements AutoCloseable {
    static final int SINK_PORT = 9000;
    static final int ECHO_PORT = 7000;
    static final int GUEST_PORT = 5000;
    static final int SOURCE_PORT = 20000;
    static final int FLOWS = 8;

    private final List<DatagramChannel> channels = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final WakingCount[] sunk;
    private final java.util.concurrent.atomic.AtomicReferenceArray<ByteBuffer> mirrors;
    private final Source source;

    private Peer(int pairs) {
        this.sunk = new WakingCount[pairs];
        this.mirrors = new java.util.concurrent.atomic.AtomicReferenceArray<>(pairs);
        for (int p = 0; p < pairs; p++) {
            sunk[p] = new WakingCount();
        }
        this.source = new Source();
    }

    static Peer start(BenchNet net, int pairs) throws Exception {
        Peer peer = new Peer(pairs);
        try {
            for (int p = 0; p < pairs; p++) {
                int pair = p;
                DatagramChannel sink = peer.open(net, new InetSocketAddress(BenchNet.HOST_IP, SINK_PORT + p));
                peer.threads.add(net.startInNamespace("bench-sink-" + p, () -> peer.sink(sink, pair)));
                DatagramChannel echo = peer.open(net, new InetSocketAddress(BenchNet.HOST_IP, ECHO_PORT + p));
                peer.threads.add(net.startInNamespace("bench-echo-" + p, () -> echo(echo)));
            }
            List<DatagramChannel> flows = new ArrayList<>();
            for (int f = 0; f < FLOWS; f++) {
                DatagramChannel ch = peer.open(net, new InetSocketAddress(BenchNet.HOST_IP, SOURCE_PORT + f));
                flows.add(ch);
            }
            peer.source.flows = flows.toArray(DatagramChannel[]::new);
            peer.threads.add(net.startInNamespace("bench-source", peer.source::run));
            return peer;
        } catch (Exception | Error e) {
            peer.close();
            throw e;
        }
    }

    /** Opens a channel in the namespace (channels keep the namespace they were made in). */
    private DatagramChannel open(BenchNet net, InetSocketAddress bind) throws Exception {
        DatagramChannel[] made = new DatagramChannel[1];
        Exception[] failed = new Exception[1];
        Thread t = net.startInNamespace("bench-open", () -> {
            try {
                DatagramChannel ch = DatagramChannel.open();
                ch.setOption(StandardSocketOptions.SO_RCVBUF, 4 << 20);
                ch.setOption(StandardSocketOptions.SO_SNDBUF, 4 << 20);
                ch.bind(bind);
                made[0] = ch;
            } catch (Exception e) {
                failed[0] = e;
            }
        });
        t.join(10_000);
        if (failed[0] != null) {
            throw failed[0];
        }
        if (made[0] == null) {
            throw new IOException("could not open a UDP socket on " + bind + " in namespace " + net.ns);
        }
        channels.add(made[0]);
        return made[0];
    }

    private void sink(DatagramChannel ch, int pair) throws IOException {
        WakingCount count = sunk[pair];
        ByteBuffer buf = ByteBuffer.allocateDirect(70_000);
        while (true) {
            buf.clear();
            ch.receive(buf);
            count.increment();
            ByteBuffer mirror = mirrors.get(pair);
            if (mirror != null) {
                mirror.putLong(0, count.getAsLong());
            }
        }
    }

    /**
     * Mirrors the count of {@code pair}'s sink into the first 8 bytes of {@code shared} (native
     * order), for the C loop's window; null stops it.
     */
    void mirror(int pair, ByteBuffer shared) {
        if (shared != null) {
            shared.putLong(0, sunk[pair].getAsLong());
        }
        mirrors.set(pair, shared);
    }

    private static void echo(DatagramChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(70_000);
        while (true) {
            buf.clear();
            SocketAddress from = ch.receive(buf);
            buf.flip();
            ch.send(buf, from);
        }
    }

    /** Datagrams the sink of {@code pair} has received so far. */
    long sunk(int pair) {
        return sunk[pair].getAsLong();
    }

    /** The count of {@code pair}'s sink, to wait on. */
    PacketCount sink(int pair) {
        return sunk[pair];
    }

    long sunk() {
        long total = 0;
        for (WakingCount s : sunk) {
            total += s.getAsLong();
        }
        return total;
    }

    Source source() {
        return source;
    }

    /** Sends frames of a size to the guest, round-robin over {@value #FLOWS} flows, while started. */
    static final class Source {
        private DatagramChannel[] flows;
        private volatile boolean active;
        private volatile boolean idle = true;
        private volatile int payload;
        private volatile long limit;
        private volatile int window;
        private volatile PacketCount received;
        private final AtomicLong sent = new AtomicLong();

        /** Starts sending {@code frameSize}-byte frames: up to {@code limit} (0: until stopped), {@code window} in flight against {@code received} (0: no window). */
        void start(int frameSize, long limit, int window, PacketCount received) {
            this.payload = Udp.payload(frameSize);
            this.limit = limit;
            this.window = window;
            this.received = received;
            sent.set(0);
            idle = false;
            active = true;
        }

        /** Stops sending and waits until the thread has; returns how many were sent. */
        long stop() throws InterruptedException {
            active = false;
            while (!idle) {
                Thread.sleep(1);
            }
            return sent.get();
        }

        long sent() {
            return sent.get();
        }

        private void run() throws Exception {
            ByteBuffer buf = ByteBuffer.allocateDirect(70_000);
            InetSocketAddress[] to = new InetSocketAddress[FLOWS];
            for (int f = 0; f < FLOWS; f++) {
                to[f] = new InetSocketAddress(BenchNet.GUEST_IP, GUEST_PORT);
            }
            while (true) {
                if (!active) {
                    idle = true;
                    Thread.sleep(1);
                    continue;
                }
                int size = payload;
                long max = limit;
                int w = window;
                PacketCount rx = received;
                Window flow = new Window(Math.max(1, w));
                buf.clear().limit(size);
                long n = 0;
                int spins = 0;
                while (active && (max == 0 || n < max)) {
                    if (w > 0 && flow.room(n, rx.getAsLong()) == 0) {
                        if (Loops.BLOCKING) {
                            rx.await(flow.halfOpenAt(n), 1_000_000L);
                        } else if (++spins > 100) {
                            Thread.yield();
                        }
                        continue;
                    }
                    spins = 0;
                    buf.clear().limit(size);
                    if (flows[(int) (n % FLOWS)].send(buf, to[(int) (n % FLOWS)]) > 0) {
                        n++;
                        sent.lazySet(n);
                    }
                }
                while (active) {
                    Thread.sleep(1);
                }
            }
        }
    }

    @Override
    public void close() {
        for (DatagramChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // closing is all that is left to do
            }
        }
        threads.forEach(Thread::interrupt);
    }
}
