package dev.vhostnet.vhostuser;

import dev.vhostnet.sys.Errno;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Binds the Unix socket both ends listen on (the front-end in server mode, the back-end), as QEMU's
 * {@code server=on} chardev does: a stale socket file at the path (left by a process that died) is
 * replaced, anything else there is refused, and the file is removed when the socket closes.
 */
final class ListeningSocket {
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private ListeningSocket() {}

    /** A socket listening on {@code path}, accept() waiting at most {@code acceptTimeoutMillis} (0: for ever). */
    static AFUNIXServerSocket bind(Path path, int acceptTimeoutMillis) throws VhostUserException {
        String call = "bind(" + path + ")";
        AFUNIXServerSocket server = null;
        try {
            if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)
                    && ((int) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & S_IFMT) != S_IFSOCK) {
                throw VhostUserException.refused(call, Errno.EEXIST,
                        "the path exists and is not a socket: remove it or listen elsewhere");
            }
            server = AFUNIXServerSocket.newInstance();
            server.setDeleteOnClose(true);
            server.bind(AFUNIXSocketAddress.of(path));
            server.setSoTimeout(acceptTimeoutMillis);
            return server;
        } catch (VhostUserException e) {
            throw e;
        } catch (IOException e) {
            if (server != null) {
                try {
                    server.close();
                } catch (IOException closing) {
                    e.addSuppressed(closing);
                }
            }
            throw VhostUserException.refused(call, e.getMessage() + ": is the directory there and writable?");
        }
    }
}
