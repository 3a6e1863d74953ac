package dev.vhostnet.bench;

import dev.vhostnet.driver.VirtioNetHeader;
import dev.vhostnet.tap.TapEndpoint;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The Java ceiling: each queue of the tap read and written directly through Netty's
 * {@link FileDescriptor} ({@code readAddress}/{@code writeAddress} on pooled direct buffers), with
 * the same 12-byte vnet header the devices use and no virtqueue in between.
 *
 * <p>The tap is always multiqueue (one queue more than pairs, that one detached) so that the C
 * ceiling ({@link CTapRig}) can attach queues of its own to it by name while these are detached.
 */
final class RawTapRig extends Rig {
    private final List<RawPort> ports = new ArrayList<>();

    private RawTapRig(BenchNet net, Peer peer, int pairs) {
        super(net, peer, pairs);
    }

    static RawTapRig start(int pairs) throws Exception {
        Epoll.ensureAvailability();
        BenchNet net = BenchNet.open(pairs + 1);
        Peer peer = null;
        try {
            net.tap.queue(pairs).detach();
            peer = Peer.start(net, pairs);
            RawTapRig rig = new RawTapRig(net, peer, pairs);
            for (int p = 0; p < pairs; p++) {
                rig.ports.add(new RawPort(
                        net.tap.endpoint(p), new FileDescriptor(net.tap.queue(p).rawFd())));
            }
            return rig;
        } catch (Exception | Error e) {
            if (peer != null) {
                peer.close();
            }
            net.close();
            throw e;
        }
    }

    @Override
    BenchPath path() {
        return BenchPath.RAW_JAVA;
    }

    @Override
    GuestPort port(int pair) {
        return ports.get(pair);
    }

    /** Detaches (or re-attaches) this rig's queues, so that the kernel sends to other queues only. */
    void attach(boolean attached) throws Exception {
        for (int p = 0; p < pairs; p++) {
            if (attached) {
                net.tap.queue(p).attach();
            } else {
                net.tap.queue(p).detach();
            }
        }
    }

    @Override
    public void close() throws IOException {
        for (RawPort p : ports) {
            p.release();
        }
        try {
            peer.close();
        } finally {
            net.close();
        }
    }

    /** Writes the 12-byte header of {@code hdr} and {@code frame} into {@code into} from position 0. */
    static void writeFrame(ByteBuffer into, byte[] frame, VirtioNetHeader hdr) {
        into.clear().order(ByteOrder.LITTLE_ENDIAN);
        hdr.writeTo(into, 0, 12);
        into.position(12);
        into.put(frame);
        into.flip();
    }

    private static final class RawPort implements GuestPort {
        private static final int CAPACITY = 12 + 65536 + 64;
        private final TapEndpoint endpoint;
        private final FileDescriptor fd;
        private final ByteBuf tx = PooledByteBufAllocator.DEFAULT.directBuffer(CAPACITY);
        private final ByteBuf rx = PooledByteBufAllocator.DEFAULT.directBuffer(CAPACITY);
        private int length;

        RawPort(TapEndpoint endpoint, FileDescriptor fd) {
            this.endpoint = endpoint;
            this.fd = fd;
        }

        @Override
        public void prepare(byte[] frame, VirtioNetHeader hdr) {
            ByteBuffer b = tx.nioBuffer(0, CAPACITY);
            writeFrame(b, frame, hdr);
            length = b.remaining();
        }

        @Override
        public int send(int n) throws Exception {
            int k = 0;
            while (k < n && fd.writeAddress(tx.memoryAddress(), 0, length) > 0) {
                k++;
            }
            return k;
        }

        @Override
        public void flush() {
            // each write is a frame
        }

        @Override
        public int receive() throws Exception {
            int n = fd.readAddress(rx.memoryAddress(), 0, CAPACITY);
            return n > 0 ? n - 12 : -1;
        }

        @Override
        public void awaitReceive(int frames) throws Exception {
            endpoint.awaitReadable(Duration.ofMillis(1));
        }

        void release() {
            tx.release();
            rx.release();
        }
    }
}
