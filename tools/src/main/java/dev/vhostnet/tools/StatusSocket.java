package dev.vhostnet.tools;

import dev.vhostnet.bench.Json;
import dev.vhostnet.sys.SocketFile;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.sys.UnixListener;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A daemon's status socket: a Unix socket (by {@link SocketFile}'s rule, mode {@code rw-------})
 * where each connection gets one JSON document, a line, and is closed — what {@code vhostnet status}
 * reads. A peer is admitted by its {@code SO_PEERCRED} uid, as the broker admits its clients: root or
 * the daemon's own user; others are closed without a byte. Nothing is read from a peer, so nothing
 * it sends can reach the daemon; a peer that does not read is cut off by the send timeout. QEMU's QMP
 * socket ({@code query-stats}) and libvirt's admin socket play this part for theirs.
 */
final class StatusSocket implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StatusSocket.class);
    /** How long accept() blocks before the loop looks whether the socket was closed. */
    private static final int ACCEPT_SLICE_MILLIS = 200;
    /** How long a peer may take to take the document. */
    private static final int SEND_TIMEOUT_MILLIS = 2000;

    private final UnixListener listener;
    private final Supplier<Map<String, Object>> document;
    private final Thread thread;
    private final int ownUid = Syscalls.geteuid();
    private volatile boolean closed;

    private StatusSocket(UnixListener listener, Supplier<Map<String, Object>> document) {
        this.listener = listener;
        this.document = document;
        this.thread = new Thread(
                this::accept, "vhostnet-status " + listener.file().path().getFileName());
        thread.setDaemon(true);
    }

    /** Listens on {@code path} and answers each admitted peer with {@code document}, built then. */
    static StatusSocket open(Path path, Supplier<Map<String, Object>> document) throws IOException {
        UnixListener listener = UnixListener.bind(
                path,
                new SocketFile.Access(Optional.of(PosixFilePermissions.fromString("rw-------")), Optional.empty()),
                8);
        try {
            listener.server().setSoTimeout(ACCEPT_SLICE_MILLIS);
        } catch (IOException e) {
            listener.close();
            throw e;
        }
        StatusSocket status = new StatusSocket(listener, document);
        status.thread.start();
        return status;
    }

    /** The status socket of a daemon listening on {@code socket}, unless one is given: {@code SOCKET.status} beside it. */
    static Path beside(Path socket) {
        return socket.resolveSibling(socket.getFileName() + ".status");
    }

    Path path() {
        return listener.file().path();
    }

    private void accept() {
        while (!closed) {
            Optional<AFUNIXSocket> socket;
            try {
                socket = listener.acceptOrBackOff(
                        e -> log.warn("status socket {}: accept failed: {}", path(), e.toString()));
            } catch (IOException e) {
                if (!closed) {
                    log.warn("status socket {} stopped: {}", path(), e.toString());
                }
                return;
            }
            socket.ifPresent(this::answer);
        }
    }

    private void answer(AFUNIXSocket socket) {
        try (socket) {
            AFUNIXSocketCredentials peer = socket.getPeerCredentials();
            if (peer.getUid() != 0 && peer.getUid() != ownUid) {
                log.debug("status socket {}: uid {} refused (root or uid {} only)", path(), peer.getUid(), ownUid);
                return;
            }
            socket.setSoTimeout(SEND_TIMEOUT_MILLIS);
            OutputStream out = socket.getOutputStream();
            out.write((Json.write(document.get()) + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException | RuntimeException e) {
            log.debug("status socket {}: {}", path(), e.toString());
        }
    }

    /** Stops answering and removes the socket file (if it is still this socket). */
    @Override
    public void close() {
        closed = true;
        try {
            listener.close();
            thread.join(5000);
        } catch (IOException e) {
            log.debug("closing status socket {}: {}", path(), e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
