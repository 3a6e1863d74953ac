package dev.vhostnet.sys;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * A listening junixsocket server socket whose file follows {@link SocketFile}'s rule: what every
 * listener of the project (the broker, the vhost-user ends in server mode) binds with.
 */
public final class UnixListener implements Closeable {
    private final AFUNIXServerSocket server;
    private final AFUNIXServerSocket bound;
    private final SocketFile file;

    private UnixListener(AFUNIXServerSocket server, AFUNIXServerSocket bound, SocketFile file) {
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
            return new UnixListener(FileDescriptorCast.using(bound.getFileDescriptor()).as(AFUNIXServerSocket.class), bound, file);
        } catch (IOException | RuntimeException e) {
            bound.close();
            if (file != null) {
                file.close();
            }
            throw e;
        }
    }

    /** The listening socket. */
    public AFUNIXServerSocket server() {
        return server;
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
