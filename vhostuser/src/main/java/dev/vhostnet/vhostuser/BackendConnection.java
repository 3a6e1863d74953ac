package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.Fd;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The back-end's end of one vhost-user socket: reads each request with the fds that came with it,
 * and writes replies. A header that breaks the protocol (not version 1, a reply bit, a payload
 * over {@value VhostUserMessage#MAX_PAYLOAD} bytes) leaves the stream out of step, so it is an
 * error that ends the connection. A front-end may be silent between requests for as long as it
 * likes (a running device needs none), but not before its first request nor in the middle of one:
 * there it has {@code patience}, or the connection ends. Owns the socket.
 */
final class BackendConnection implements AutoCloseable {
    /** Room for the fds of the largest request (8 memory regions) and a few surplus ones to count. */
    private static final int ANCILLARY_BYTES = 512;

    private final AFUNIXSocket socket;
    private final DataInputStream in;
    private final OutputStream out;
    private final int patienceMillis;
    private boolean greeted;

    BackendConnection(AFUNIXSocket socket, Duration patience) throws IOException {
        this.socket = socket;
        this.patienceMillis = (int) Math.min(Integer.MAX_VALUE, Math.max(1, patience.toMillis()));
        socket.setAncillaryReceiveBufferSize(ANCILLARY_BYTES);
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** The next request, or {@code null} when the front-end closed the connection between requests. */
    FrontendRequest read() throws IOException, VhostUserException {
        byte[] header = new byte[VhostUserMessage.HEADER_SIZE];
        List<Fd> fds = new ArrayList<>();
        try {
            socket.setSoTimeout(greeted ? 0 : patienceMillis);
            int first;
            try {
                first = in.read(header);
            } catch (SocketTimeoutException e) {
                throw VhostUserException.timeout(
                        "vhost-user connection",
                        "the front-end sent no request within " + patienceMillis + " ms of connecting");
            }
            if (first < 0) {
                return null;
            }
            greeted = true;
            socket.setSoTimeout(patienceMillis);
            collectFds(fds);
            in.readFully(header, first, header.length - first);
            collectFds(fds);
            VhostUserMessage.Header h = VhostUserMessage.decodeHeader(header);
            String name = FrontendRequest.nameOf(h.request());
            if (h.version() != VhostUserMessage.VERSION || h.isReply()) {
                throw VhostUserException.protocol(
                        name, String.format("flags 0x%x: a request has version 1 and no REPLY bit", h.flags()));
            }
            if (h.size() < 0 || h.size() > VhostUserMessage.MAX_PAYLOAD) {
                throw VhostUserException.protocol(
                        name,
                        "the header announces " + Integer.toUnsignedString(h.size()) + " payload bytes, more than "
                                + VhostUserMessage.MAX_PAYLOAD);
            }
            byte[] payload = new byte[h.size()];
            in.readFully(payload);
            collectFds(fds);
            return new FrontendRequest(h.request(), h.flags(), payload, fds);
        } catch (SocketTimeoutException e) {
            fds.forEach(Fd::close);
            throw VhostUserException.timeout(
                    "vhost-user connection",
                    "the front-end stopped within a request for more than " + patienceMillis + " ms");
        } catch (EOFException e) {
            fds.forEach(Fd::close);
            throw VhostUserException.disconnected(
                    "vhost-user connection", "the front-end closed the connection in the middle of a request");
        } catch (IOException | RuntimeException e) {
            fds.forEach(Fd::close);
            throw e;
        }
    }

    /** Takes the fds received so far; junixsocket would close its own numbers again with the socket. */
    private void collectFds(List<Fd> into) throws IOException {
        FileDescriptor[] received = socket.getReceivedFileDescriptors();
        if (received == null) {
            return;
        }
        for (FileDescriptor fd : received) {
            into.add(Fd.takeOver(fd, FileDescriptorCast.using(fd).as(Integer.class), "vhost-user fd"));
        }
    }

    /** Sends the reply to request {@code id}: header with the REPLY bit, then {@code payload}. */
    void reply(int id, byte[] payload) throws IOException {
        out.write(VhostUserMessage.reply(id, payload));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
