package dev.vhostnet.broker;

import com.google.common.collect.ImmutableList;
import com.google.common.collect.ImmutableSet;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.tap.Offload;
import java.io.IOException;
import org.newsclub.net.unix.AFUNIXSocket;

/**
 * A tap a broker opened for this process: its queue fds and vhost-net fds, owned here, and the
 * connection that is the lease. Closing closes the fds and the connection; the broker then deletes
 * the tap unless it was asked to make it persistent. Hand a vhost fd to {@code VhostNet.adopt(fd)}
 * (closing both is harmless: {@link Fd#close()} is idempotent).
 */
public final class BrokeredTap implements AutoCloseable {
    private final AFUNIXSocket lease;
    private final BrokerReply reply;
    private final ImmutableList<Fd> queueFds;
    private final ImmutableList<Fd> vhostFds;

    BrokeredTap(AFUNIXSocket lease, BrokerReply reply, ImmutableList<Fd> queueFds, ImmutableList<Fd> vhostFds) {
        this.lease = lease;
        this.reply = reply;
        this.queueFds = queueFds;
        this.vhostFds = vhostFds;
    }

    /** The tap's name as the kernel gave it. */
    public String name() {
        return reply.tapName();
    }

    /** One fd per queue, in queue order; each is a {@code /dev/net/tun} file bound to the tap. */
    public ImmutableList<Fd> queueFds() {
        return queueFds;
    }

    public Fd queueFd(int index) {
        return queueFds.get(index);
    }

    /** The {@code /dev/vhost-net} fds, one per queue pair asked for. */
    public ImmutableList<Fd> vhostFds() {
        return vhostFds;
    }

    public int vnetHeaderSize() {
        return reply.vnetHeaderSize();
    }

    /** The offloads the kernel took for this tap. */
    public ImmutableSet<Offload> offloads() {
        return reply.offloads();
    }

    /** Whether the connection to the broker is still open (the lease holds). */
    public boolean isLeased() {
        return !lease.isClosed();
    }

    /** Closes every fd, then the connection (the end of the lease). Idempotent. */
    @Override
    public void close() {
        for (Fd fd : vhostFds) {
            fd.close();
        }
        for (Fd fd : queueFds) {
            fd.close();
        }
        try {
            lease.close();
        } catch (IOException e) {
            // The fds are closed; a failed close of the socket leaves nothing to undo.
        }
    }

    @Override
    public String toString() {
        return "BrokeredTap[" + name() + ", " + queueFds.size() + " queue fd(s), " + vhostFds.size()
                + " vhost-net fd(s)]";
    }
}
