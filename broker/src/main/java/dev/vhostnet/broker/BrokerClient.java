package dev.vhostnet.broker;

import com.google.common.base.Preconditions;
import com.google.common.collect.ImmutableList;
import dev.vhostnet.sys.Fd;
import java.io.FileDescriptor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.newsclub.net.unix.FileDescriptorCast;

/**
 * The unprivileged side, for any Java VMM: connects to a broker's socket, sends one
 * {@link BrokerRequest}, and receives the fds it sends with {@code SCM_RIGHTS} as owned {@link Fd}s.
 *
 * <pre>{@code
 * try (BrokeredTap tap = BrokerClient.openTap(Path.of("/run/vhostnet/broker.sock"),
 *         BrokerRequest.builder().name("vm1000-%d").vnetHeader(12).offloads(Offload.CSUM).up(true).vhostFds(1).build())) {
 *     VhostNet vhost = VhostNet.adopt(tap.vhostFds().get(0));
 *     int backend = tap.queueFd(0).get();
 * }
 * }</pre>
 */
public final class BrokerClient {
    /** Room for the control message of {@value Wire#SCM_MAX_FD} fds ({@code CMSG_SPACE(253 * 4)} is 1032). */
    static final int ANCILLARY_BUFFER = 2048;

    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private BrokerClient() {}

    /** {@link #openTap(Path, BrokerRequest, Duration)} waiting at most {@link #DEFAULT_TIMEOUT} for the reply. */
    public static BrokeredTap openTap(Path socket, BrokerRequest request) throws IOException {
        return openTap(socket, request, DEFAULT_TIMEOUT);
    }

    /**
     * Asks the broker at {@code socket} for a tap; returns it with its fds, the connection kept open
     * as the lease. A refusal is a {@link BrokerException} carrying the broker's code and message.
     */
    public static BrokeredTap openTap(Path socket, BrokerRequest request, Duration timeout) throws IOException {
        Preconditions.checkNotNull(request, "request");
        AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
        List<Fd> received = new ArrayList<>();
        boolean done = false;
        try {
            s.setAncillaryReceiveBufferSize(ANCILLARY_BUFFER);
            s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis()));
            s.getOutputStream().write(request.encode());
            s.getOutputStream().flush();
            BrokerReply reply = BrokerReply.decode(Wire.read(s.getInputStream()));
            for (FileDescriptor fd : s.getReceivedFileDescriptors()) {
                received.add(adopt(fd));
            }
            if (!reply.isOk()) {
                throw new BrokerException(reply.code(), reply.message());
            }
            if (received.size() != reply.queueFds() + reply.vhostFds()) {
                throw new ProtocolException(
                        BrokerReply.Code.MALFORMED,
                        "the broker announced " + reply.queueFds() + " queue fd(s) and " + reply.vhostFds()
                                + " vhost-net fd(s) but sent " + received.size());
            }
            s.setSoTimeout(0);
            ImmutableList<Fd> queues = ImmutableList.copyOf(received.subList(0, reply.queueFds()));
            ImmutableList<Fd> vhosts = ImmutableList.copyOf(received.subList(reply.queueFds(), received.size()));
            done = true;
            return new BrokeredTap(s, reply, queues, vhosts);
        } finally {
            if (!done) {
                received.forEach(Fd::close);
                s.close();
            }
        }
    }

    /** Takes a descriptor junixsocket received into an owned {@link Fd} ({@link Fd#takeOver}: junixsocket keeps none). */
    static Fd adopt(FileDescriptor received) throws IOException {
        return Fd.takeOver(received, FileDescriptorCast.using(received).as(Integer.class), "fd from broker");
    }
}
