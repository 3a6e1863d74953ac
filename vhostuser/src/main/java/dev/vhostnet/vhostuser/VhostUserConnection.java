package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.Fd;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The front-end's end of one vhost-user socket: sends a request with its fds in one
 * {@code sendmsg}, and reads and checks the reply. Requests are serialised (one in flight), as the
 * protocol requires. Owns the socket; the fds it sends stay their owners'.
 */
final class VhostUserConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(VhostUserConnection.class);

    private final AFUNIXSocket socket;
    private final String peer;
    private final OutputStream out;
    private final DataInputStream in;
    private final int timeoutMillis;
    private boolean closed;

    private VhostUserConnection(AFUNIXSocket socket, String peer) throws IOException {
        this.socket = socket;
        this.peer = peer;
        this.out = socket.getOutputStream();
        InputStream raw = socket.getInputStream();
        this.in = new DataInputStream(raw);
        this.timeoutMillis = socket.getSoTimeout();
    }

    /**
     * Connects to a back-end listening on {@code path} (the front-end as client); a reply that takes
     * longer than {@code replyTimeout} fails its request (and closes the connection).
     */
    static VhostUserConnection connect(Path path, Duration replyTimeout) throws VhostUserException {
        AFUNIXSocket s;
        try {
            s = connectSocket(path);
        } catch (IOException e) {
            throw VhostUserException.unreachable(
                    "connect(" + path + ")",
                    e.getMessage() + ": is the vhost-user back-end listening there (server mode)?");
        }
        return of(s, path.toString(), replyTimeout);
    }

    /** A socket connected to {@code path}; on failure none is left open (AFUNIXSocket.connectTo would leave it). */
    static AFUNIXSocket connectSocket(Path path) throws IOException {
        AFUNIXSocket s = AFUNIXSocket.newInstance();
        try {
            s.connect(AFUNIXSocketAddress.of(path));
            return s;
        } catch (IOException e) {
            closeQuietly(s, path.toString());
            throw e;
        }
    }

    /** Wraps a connected socket whose replies must come within {@code replyTimeout}; closes it if that fails. */
    static VhostUserConnection of(AFUNIXSocket socket, String peer, Duration replyTimeout) throws VhostUserException {
        try {
            socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, Math.max(1, replyTimeout.toMillis())));
        } catch (IOException e) {
            closeQuietly(socket, peer);
            throw VhostUserException.disconnected(
                    "vhost-user socket " + peer, "setting the reply timeout: " + e.getMessage());
        }
        return of(socket, peer);
    }

    /** Wraps a connected socket (a back-end that connected to us, or a test's socket pair). */
    static VhostUserConnection of(AFUNIXSocket socket, String peer) throws VhostUserException {
        try {
            return new VhostUserConnection(socket, peer);
        } catch (IOException e) {
            closeQuietly(socket, peer);
            throw VhostUserException.disconnected("vhost-user socket " + peer, e.getMessage());
        }
    }

    String peer() {
        return peer;
    }

    /**
     * Sends {@code request} with {@code fds} as SCM_RIGHTS; when {@code needReply} or the request
     * always has a reply, reads the reply and returns its payload (checked header), else returns null.
     */
    synchronized byte[] call(VhostUserRequest request, byte[] payload, List<Fd> fds, boolean needReply)
            throws VhostUserException {
        if (closed) {
            throw VhostUserException.disconnected(request.specName() + " to " + peer, "the connection is closed");
        }
        boolean ack = needReply && !request.hasReply();
        byte[] message = VhostUserMessage.request(request, ack, payload);
        try {
            if (!fds.isEmpty()) {
                FileDescriptor[] descriptors = new FileDescriptor[fds.size()];
                for (int i = 0; i < descriptors.length; i++) {
                    descriptors[i] =
                            FileDescriptorCast.unsafeUsing(fds.get(i).get()).getFileDescriptor();
                }
                socket.setOutboundFileDescriptors(descriptors);
            }
            out.write(message);
            out.flush();
        } catch (IOException e) {
            throw VhostUserException.disconnected(request.specName() + " to " + peer, "sending: " + e.getMessage());
        }
        log.debug(
                "sent {} ({} payload bytes, {} fds{})",
                request.specName(),
                payload.length,
                fds.size(),
                ack ? ", need reply" : "");
        if (!request.hasReply() && !ack) {
            return null;
        }
        try {
            byte[] header = new byte[VhostUserMessage.HEADER_SIZE];
            in.readFully(header);
            VhostUserMessage.Header h = VhostUserMessage.decodeHeader(header);
            byte[] body;
            try {
                VhostUserMessage.checkReplyHeader(request, h);
                int expected = ack ? VhostUserMessage.U64_SIZE : request.replySize();
                if (expected >= 0 && h.size() != expected) {
                    throw VhostUserException.protocol(
                            request,
                            "the reply has " + h.size() + " payload bytes, not the " + expected
                                    + " its payload kind has");
                }
                body = new byte[h.size()];
                in.readFully(body);
                if (ack) {
                    VhostUserMessage.decodeU64(request, body);
                }
            } catch (VhostUserException e) {
                close(); // the stream is out of step: the spec's answer to a wrong reply is to close
                throw e;
            }
            if (ack) {
                long status = VhostUserMessage.decodeU64(request, body);
                if (status != 0) {
                    throw VhostUserException.refused(
                            request.specName() + " to " + peer,
                            "the back-end refused it (REPLY_ACK status " + status + ")");
                }
            }
            return body;
        } catch (SocketTimeoutException e) {
            close();
            throw VhostUserException.timeout(
                    request.specName() + " to " + peer,
                    "no reply within " + timeoutMillis()
                            + " ms: the back-end is stuck or does not answer this request");
        } catch (EOFException e) {
            close();
            throw VhostUserException.disconnected(
                    request.specName() + " to " + peer, "the back-end closed the connection instead of replying");
        } catch (VhostUserException e) {
            throw e;
        } catch (IOException e) {
            close();
            throw VhostUserException.disconnected(
                    request.specName() + " to " + peer, "reading the reply: " + e.getMessage());
        }
    }

    private int timeoutMillis() {
        return timeoutMillis;
    }

    synchronized boolean isClosed() {
        return closed;
    }

    /**
     * Whether the back-end has gone: this side closed the connection, or the peer hung up (a peek,
     * nothing is read; a back-end sends nothing unasked on this socket, so no reply is mistaken for it).
     */
    synchronized boolean hasHungUp() {
        if (closed) {
            return true;
        }
        try {
            return socket.checkConnectionClosed();
        } catch (IOException e) {
            return true;
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeQuietly(socket, peer);
    }

    private static void closeQuietly(AFUNIXSocket socket, String peer) {
        try {
            socket.close();
        } catch (IOException e) {
            log.debug("closing the vhost-user socket to {}: {}", peer, e.getMessage());
        }
    }
}
