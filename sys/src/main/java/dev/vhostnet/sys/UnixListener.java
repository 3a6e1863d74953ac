package dev.vhostnet.sys;

import java.io.Closeable;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A listening junixsocket server socket whose file follows {@link SocketFile}'s rule: what every
 * listener of the project (the broker, the vhost-user ends in server mode) binds with.
 */
public final class UnixListener implements Closeable {
    private final AFUNIXServerSocket server;
    /** What owns the descriptor: the socket that bound it, or the inherited descriptor itself. */
    private final Closeable bound;

    private final SocketFile file;
    /** The pause before the next accept after a failed one; 0 after a success. Only the accepting thread uses it. */
    private long backoffMillis;

    private static final long BACKOFF_MIN_MILLIS = 10;
    private static final long BACKOFF_MAX_MILLIS = 1000;

    private UnixListener(AFUNIXServerSocket server, Closeable bound, SocketFile file) {
        this.server = server;
        this.bound = bound;
        this.file = file;
    }

    /** Listens on {@code path} with {@code access} and a backlog of {@code backlog} connections. */
    public static UnixListener bind(Path path, SocketFile.Access access, int backlog) throws IOException {
        AFUNIXServerSocket bound = AFUNIXServerSocket.newInstance();
        SocketFile file = null;
        try {
            bound.setDeleteOnClose(false);
            file = SocketFile.bind(path, access, where -> bound.bind(AFUNIXSocketAddress.of(where), backlog));
            // junixsocket's accept() checks that the file it bound is still there, and closes the
            // socket when it is not, which after the move it is not. A socket cast from the same
            // descriptor has no path to check, and does not own the descriptor: it accepts, and the
            // first one, unused otherwise, closes the descriptor on close().
            return new UnixListener(
                    FileDescriptorCast.using(bound.getFileDescriptor()).as(AFUNIXServerSocket.class), bound, file);
        } catch (IOException | RuntimeException e) {
            bound.close();
            if (file != null) {
                file.close();
            }
            throw e;
        }
    }

    /**
     * The listening socket this process inherited as descriptor {@code fd} (systemd's socket
     * activation passes it as 3): its file, made by the one that listened, stays there on
     * {@link #close}. The descriptor is the listener's from now on; unless it is a Unix socket bound
     * to a path it is refused, and closed.
     */
    public static UnixListener inherited(int fd) throws IOException {
        // A socket cast from a descriptor does not own it: the descriptor is closed on its own.
        Fd owned = Fd.adopt(fd, "inherited listening socket " + fd);
        AFUNIXServerSocket server;
        try {
            server = FileDescriptorCast.unsafeUsing(fd).as(AFUNIXServerSocket.class);
        } catch (IOException | ClassCastException e) {
            owned.close();
            throw new SysException(
                    "inheriting fd " + fd,
                    Errno.ENOTSOCK.number(),
                    "not a listening Unix socket (" + e.getMessage()
                            + "): the unit's socket must be a ListenStream= path");
        }
        try {
            server.setDeleteOnClose(false); // the file is its maker's (SocketFile.inherited)
            AFUNIXSocketAddress address = server.getLocalSocketAddress();
            if (address == null || !address.hasFilename()) {
                throw new SysException(
                        "getsockname(fd " + fd + ")",
                        Errno.ENOTSOCK.number(),
                        "the inherited socket is not bound to a path: give the unit a ListenStream=/path");
            }
            return new UnixListener(
                    server, owned::close, SocketFile.inherited(address.getFile().toPath()));
        } catch (IOException | RuntimeException e) {
            server.close();
            owned.close();
            throw e;
        }
    }

    /** The listening socket. */
    public AFUNIXServerSocket server() {
        return server;
    }

    /**
     * One {@code accept} for an accepting loop: the connection; or empty when accept timed out, or
     * failed in a way that passes — EMFILE, ENFILE, ENOBUFS, ECONNABORTED: the connection waits in
     * the backlog — after {@code onFailure} was told and a pause that doubles from 10 ms to 1 s while
     * failures repeat, so the loop neither spins nor gives up. Throws only once the socket is closed.
     */
    public Optional<AFUNIXSocket> acceptOrBackOff(Consumer<IOException> onFailure) throws IOException {
        try {
            AFUNIXSocket socket = server.accept();
            backoffMillis = 0;
            return Optional.of(socket);
        } catch (SocketTimeoutException e) {
            return Optional.empty();
        } catch (IOException e) {
            if (server.isClosed()) {
                throw e;
            }
            backoffMillis = Math.min(BACKOFF_MAX_MILLIS, Math.max(BACKOFF_MIN_MILLIS, backoffMillis * 2));
            onFailure.accept(e);
            try {
                Thread.sleep(backoffMillis);
            } catch (InterruptedException interrupted) {
                Thread.currentThread().interrupt();
            }
            return Optional.empty();
        }
    }

    /** The pause {@link #acceptOrBackOff} takes after the failure it just reported, in milliseconds. */
    public long backoffMillis() {
        return backoffMillis;
    }

    /** The socket's file. */
    public SocketFile file() {
        return file;
    }

    /** Stops listening and removes the socket file, if it is still this socket. Idempotent. */
    @Override
    public void close() throws IOException {
        try {
            server.close();
            bound.close();
        } finally {
            file.close();
        }
    }

    @Override
    public String toString() {
        return "UnixListener[" + file.path() + "]";
    }
}
