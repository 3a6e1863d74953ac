package dev.vhostnet.tools;

import dev.vhostnet.sys.SocketFile;
import picocli.CommandLine.Option;

/**
 * {@code --socket-mode} and {@code --socket-group}: who may connect to a command's listening socket
 * (the broker's, the vhost-user back-end's), set on the file before it appears at its path
 * ({@link SocketFile}).
 */
final class SocketAccessOptions {
    static final String DEFAULT_MODE = "rw-rw----";

    @Option(
            names = "--socket-mode",
            paramLabel = "MODE",
            defaultValue = DEFAULT_MODE,
            description = "Permissions of the socket file, as ls shows them or in octal (0660); default "
                    + "${DEFAULT-VALUE}: give the clients' group with --socket-group.")
    String mode;

    @Option(
            names = "--socket-group",
            paramLabel = "GROUP",
            description = "Group of the socket file, a name or a gid (default: this process's).")
    String group;

    /** What the options say; an {@link IllegalArgumentException} names a malformed mode. */
    SocketFile.Access access() {
        return SocketFile.Access.of(mode, group);
    }
}
