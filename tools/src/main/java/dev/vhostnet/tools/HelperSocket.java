package dev.vhostnet.tools;

import java.io.FileDescriptor;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketCredentials;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The socket a bridge helper inherits from QEMU ({@code --fd=N}: one end of the socketpair that
 * {@code net_bridge_run_helper} of QEMU's {@code net/tap.c} makes), and the one message the helper
 * sends on it: a byte with the tap fd attached ({@code SCM_RIGHTS}), as {@code send_fd} of
 * {@code qemu-bridge-helper.c} does and QEMU's {@code recv_fd} reads.
 */
final class HelperSocket implements AutoCloseable {
    private final AFUNIXSocket socket;

    private HelperSocket(AFUNIXSocket socket) {
        this.socket = socket;
    }

    /** Takes fd {@code number}, after checking it is an open Unix socket that is not stdio. */
    static HelperSocket inherited(int number) throws IOException {
        if (number < 3) {
            throw new IllegalArgumentException(
                    "--fd=" + number + " is " + (number < 0 ? "not a file descriptor" : "stdin, stdout or stderr")
                            + ": give the socket QEMU passes (3 or more)");
        }
        String target;
        try {
            target = Files.readSymbolicLink(Path.of("/proc/self/fd", Integer.toString(number)))
                    .toString();
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("--fd=" + number + " is not open in this process: run from QEMU's "
                    + "-netdev bridge,helper=..., which passes its socket");
        }
        if (!target.startsWith("socket:")) {
            throw new IllegalArgumentException("--fd=" + number + " is " + target + ", not a socket");
        }
        FileDescriptorCast cast = FileDescriptorCast.unsafeUsing(number);
        if (!cast.isAvailable(AFUNIXSocket.class)) {
            throw new IllegalArgumentException("--fd=" + number + " is a socket but not a connected Unix socket");
        }
        return new HelperSocket(cast.as(AFUNIXSocket.class));
    }

    /** Who made the socketpair ({@code SO_PEERCRED}): QEMU's uid, gid and pid, which no argument can fake. */
    AFUNIXSocketCredentials peer() throws IOException {
        return socket.getPeerCredentials();
    }

    /** Sends {@code fd} to QEMU with one zero byte ({@code SCM_RIGHTS}). */
    void send(int fd) throws IOException {
        FileDescriptor passed = FileDescriptorCast.unsafeUsing(fd).getFileDescriptor();
        socket.setOutboundFileDescriptors(passed);
        OutputStream out = socket.getOutputStream();
        out.write(0);
        out.flush();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
