package dev.vhostnet.it;

import static dev.vhostnet.it.DataPathTest.frameTo;
import static dev.vhostnet.it.DataPathTest.payload;
import static dev.vhostnet.it.DataPathTest.transmit;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.testkit.TapInNamespace;
import java.net.DatagramSocket;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Numbered frames from the driver of pair 0 to a socket behind the tap, sent on one thread and
 * received on another, at most 100 ahead (so the socket never overflows), while the test stops,
 * restarts or switches the device: {@link #assertAllArrivedOnceInOrder()} then shows nothing was
 * lost or repeated.
 */
final class SequencedTraffic implements AutoCloseable {
    private final int frames;
    private final ExecutorService threads = Executors.newFixedThreadPool(2);
    private final AtomicInteger received = new AtomicInteger();
    private final Future<?> sender;
    private final Future<List<Integer>> receiver;

    SequencedTraffic(NetFixture k, DatagramSocket socket, int frames) {
        this.frames = frames;
        int port = socket.getLocalPort();
        sender = threads.submit(() -> {
            for (int i = 0; i < frames; i++) {
                while (i - received.get() > 100) {
                    Thread.sleep(1);
                }
                transmit(k.driver(0), frameTo(k, port, 40000, payload(i, 100)));
            }
            return null;
        });
        receiver = threads.submit(() -> {
            List<Integer> seqs = new ArrayList<>();
            while (seqs.size() < frames) {
                seqs.add(ByteBuffer.wrap(TapInNamespace.receive(socket)).getInt());
                received.incrementAndGet();
            }
            return seqs;
        });
    }

    /** Frames received so far. */
    int received() {
        return received.get();
    }

    /** Waits until {@code count} frames have arrived. */
    void awaitReceived(int count) throws InterruptedException {
        while (received.get() < count) {
            Thread.sleep(1);
        }
    }

    /** Waits for the run to end; every frame arrived exactly once, in the order sent. */
    void assertAllArrivedOnceInOrder() throws Exception {
        sender.get(120, TimeUnit.SECONDS);
        List<Integer> seqs = receiver.get(120, TimeUnit.SECONDS);
        for (int i = 0; i < frames; i++) {
            assertEquals(i, seqs.get(i), "frame " + i + " of " + frames);
        }
    }

    @Override
    public void close() {
        threads.shutdownNow();
    }
}
