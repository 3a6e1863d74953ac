package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.SocketFile;
import dev.vhostnet.sys.SysException;
import dev.vhostnet.sys.UnixListener;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Binds the Unix socket both ends listen on (the front-end in server mode, the back-end), as QEMU's
 * {@code server=on} chardev, by the project's one path rule ({@link SocketFile}: a stale socket
 * replaced, anything else refused, the file removed on close while it is still this socket).
 */
final class ListeningSocket {
    /** Connections waiting to be accepted (QEMU's chardev listens with 1; a back-end and a prober fit). */
    private static final int BACKLOG = 50;

    private ListeningSocket() {}

    /** A socket listening on {@code path}, accept() waiting at most {@code acceptTimeoutMillis} (0: for ever). */
    static UnixListener bind(Path path, int acceptTimeoutMillis) throws VhostUserException {
        return bind(path, SocketFile.Access.DEFAULT, acceptTimeoutMillis);
    }

    /** As {@link #bind(Path, int)}, the file given {@code access} before it appears at the path. */
    static UnixListener bind(Path path, SocketFile.Access access, int acceptTimeoutMillis) throws VhostUserException {
        try {
            UnixListener listener = UnixListener.bind(path, access, BACKLOG);
            listener.server().setSoTimeout(acceptTimeoutMillis);
            return listener;
        } catch (SysException e) {
            throw VhostUserException.refused(e);
        } catch (IOException e) {
            throw VhostUserException.refused(
                    "bind(" + path + ")", e.getMessage() + ": is the directory there and writable?");
        }
    }
}
