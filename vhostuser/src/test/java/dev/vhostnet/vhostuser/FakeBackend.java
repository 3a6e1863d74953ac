package dev.vhostnet.vhostuser;

import java.io.DataInputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.function.Function;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A minimal vhost-user back-end on a thread, for tests: listens on a path and accepts one front-end
 * (or, {@link #dialing}, connects to a front-end that listens), records every request (id, flags, payload, how many fds came with it, and the first bytes of a
 * memory-table fd), and answers as a back-end must — or, through {@link #override}, wrongly.
 */
final class FakeBackend implements AutoCloseable {
    /** One request as received. */
    record Received(int request, int flags, byte[] payload, int fds, byte[] memfdHead) {
        VhostUserRequest kind() {
            return VhostUserRequest.of(request);
        }

        ByteBuffer body() {
            return ByteBuffer.wrap(payload).order(ByteOrder.nativeOrder());
        }

        boolean needReply() {
            return (flags & VhostUserMessage.FLAG_NEED_REPLY) != 0;
        }
    }

    long features;
    long protocolFeatures;
    long queueNum = 4;
    /** When it returns non-null for a request, those bytes are sent instead of the proper reply (then nothing else). */
    volatile Function<Received, byte[]> override = r -> null;

    final List<Received> received = Collections.synchronizedList(new ArrayList<>());
    /** Null when dialing. */
    private final AFUNIXServerSocket server;

    private final Thread thread;
    private volatile AFUNIXSocket socket;
    volatile Throwable failure;

    /** Listens on {@code path} (a stale socket file there is replaced) for one front-end. */
    FakeBackend(Path path, long features, long protocolFeatures) throws IOException {
        this(listen(path), null, features, protocolFeatures);
    }

    /** Connects to a front-end listening on {@code path} (server mode). */
    static FakeBackend dialing(Path path, long features, long protocolFeatures) throws IOException {
        return new FakeBackend(null, AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path)), features, protocolFeatures);
    }

    private FakeBackend(AFUNIXServerSocket server, AFUNIXSocket dialed, long features, long protocolFeatures) {
        this.features = features;
        this.protocolFeatures = protocolFeatures;
        this.server = server;
        this.socket = dialed;
        thread = new Thread(this::serve, "fake-vhost-user-backend");
        thread.setDaemon(true);
        thread.start();
    }

    private static AFUNIXServerSocket listen(Path path) throws IOException {
        AFUNIXServerSocket server = AFUNIXServerSocket.newInstance();
        server.bind(AFUNIXSocketAddress.of(path));
        return server;
    }

    private void serve() {
        try (AFUNIXSocket s = server != null ? server.accept() : socket) {
            socket = s;
            s.setAncillaryReceiveBufferSize(1024);
            DataInputStream in = new DataInputStream(s.getInputStream());
            OutputStream out = s.getOutputStream();
            while (true) {
                byte[] header = new byte[VhostUserMessage.HEADER_SIZE];
                try {
                    in.readFully(header);
                } catch (IOException e) {
                    return; // front-end closed
                }
                FileDescriptor[] fds = s.getReceivedFileDescriptors();
                VhostUserMessage.Header h = VhostUserMessage.decodeHeader(header);
                byte[] payload = new byte[h.size()];
                in.readFully(payload);
                FileDescriptor[] more = s.getReceivedFileDescriptors();
                List<FileDescriptor> all = new ArrayList<>();
                if (fds != null) {
                    all.addAll(Arrays.asList(fds));
                }
                if (more != null) {
                    all.addAll(Arrays.asList(more));
                }
                byte[] head = null;
                if (h.request() == VhostUserRequest.SET_MEM_TABLE.id() && !all.isEmpty()) {
                    // The region's memfd: what the front-end wrote into guest memory must be readable here.
                    head = new byte[16];
                    try (FileInputStream f = new FileInputStream(all.get(0))) {
                        f.getChannel().read(ByteBuffer.wrap(head), 0);
                    }
                    all.remove(0);
                }
                for (FileDescriptor fd : all) {
                    new FileInputStream(fd).close();
                }
                Received r = new Received(h.request(), h.flags(), payload, all.size() + (head != null ? 1 : 0), head);
                received.add(r);
                byte[] wrong = override.apply(r);
                if (wrong != null) {
                    out.write(wrong);
                    out.flush();
                    continue;
                }
                byte[] reply = answer(r);
                if (reply == null && r.needReply()) {
                    reply = VhostUserMessage.u64(0);
                }
                if (reply != null) {
                    out.write(reply(h.request(), reply));
                    out.flush();
                }
            }
        } catch (Throwable t) {
            failure = t;
        }
    }

    private byte[] answer(Received r) {
        VhostUserRequest kind = r.kind();
        if (kind == null) {
            return null;
        }
        switch (kind) {
            case GET_FEATURES:
                return VhostUserMessage.u64(features);
            case GET_PROTOCOL_FEATURES:
                return VhostUserMessage.u64(protocolFeatures);
            case GET_QUEUE_NUM:
                return VhostUserMessage.u64(queueNum);
            case GET_VRING_BASE: {
                int index = r.body().getInt();
                return VhostUserMessage.vringState(index, 7 + index);
            }
            case GET_CONFIG: {
                ByteBuffer b = r.body();
                int offset = b.getInt();
                int size = b.getInt();
                byte[] data = new byte[size];
                for (int i = 0; i < size; i++) {
                    data[i] = (byte) (offset + i);
                }
                return VhostUserMessage.config(offset, 0, data);
            }
            default:
                return null;
        }
    }

    /** A well-formed reply to {@code request}. */
    static byte[] reply(int request, byte[] payload) {
        return VhostUserMessage.reply(request, payload);
    }

    /** A reply with any header. */
    static byte[] raw(int request, int flags, int size, byte[] payload) {
        return ByteBuffer.allocate(VhostUserMessage.HEADER_SIZE + payload.length)
                .order(ByteOrder.nativeOrder())
                .putInt(request)
                .putInt(flags)
                .putInt(size)
                .put(payload)
                .array();
    }

    List<VhostUserRequest> kinds() {
        synchronized (received) {
            return received.stream().map(Received::kind).toList();
        }
    }

    /** Waits until the front-end's requests have all arrived (it sends without waiting when there is no reply). */
    void awaitRequests(int count) throws InterruptedException {
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (received.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    /** Hangs up, as a back-end that dies: the connection (and the listening socket) close. */
    @Override
    public void close() throws Exception {
        if (server != null) {
            server.close();
        }
        AFUNIXSocket s = socket;
        if (s != null) {
            s.close();
        }
        if (Thread.currentThread() != thread) {
            thread.join(5000);
        }
    }
}
