package dev.vhostnet.tools;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine.Option;

/**
 * {@code --status-socket}: where a daemon ({@code serve}, {@code vhost-user}) answers {@code
 * vhostnet status} ({@link StatusSocket}). By default {@code SOCKET.status} beside the socket the
 * daemon listens on; a daemon that listens on none ({@code vhost-user --client}: the socket is
 * QEMU's) has no default and must be given one.
 */
final class StatusSocketOptions {
    @Option(
            names = "--status-socket",
            paramLabel = "PATH",
            description = "Where vhostnet status asks this daemon for its counters: a socket of mode rw-------, "
                    + "root or this user only (default: the path of the socket it listens on + .status; "
                    + "vhost-user --client listens on none: give it).")
    Path path;

    /** Whether {@code --status-socket} was given. */
    boolean given() {
        return path != null;
    }

    /** The status socket of a daemon listening on {@code listening}: {@code --status-socket}, or SOCKET.status beside it. */
    Path beside(Path listening) {
        return path != null ? path : StatusSocket.beside(listening);
    }

    /** Listens on {@link #beside(Path) the status socket} for {@code listening}, answering with {@code document}. */
    StatusSocket open(Path listening, Supplier<Map<String, Object>> document) throws IOException {
        return StatusSocket.open(beside(listening), document);
    }
}
