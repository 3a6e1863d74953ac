package dev.vhostnet.broker;

import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.time.Duration;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A socket's input with one deadline for everything read through it: each read waits at most
 * what is left, so a peer sending a byte now and then cannot stretch a request past the deadline.
 */
final class DeadlineInputStream extends InputStream {
    private final AFUNIXSocket socket;
    private final InputStream in;
    private final long deadline;

    DeadlineInputStream(AFUNIXSocket socket, Duration limit) throws IOException {
        this.socket = socket;
        this.in = socket.getInputStream();
        this.deadline = System.nanoTime() + limit.toNanos();
    }

    private void arm() throws IOException {
        long leftMillis = (deadline - System.nanoTime() + 999_999) / 1_000_000;
        if (leftMillis <= 0) {
            throw new SocketTimeoutException("deadline passed");
        }
        socket.setSoTimeout((int) Math.min(Integer.MAX_VALUE, leftMillis));
    }

    @Override
    public int read() throws IOException {
        arm();
        return in.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        arm();
        return in.read(b, off, len);
    }
}
