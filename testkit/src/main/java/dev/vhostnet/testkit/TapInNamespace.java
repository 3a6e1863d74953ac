package dev.vhostnet.testkit;

import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.NetInterface;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.TapEndpoint;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Predicate;

/**
 * A namespace peer for a tap, the topology of the traffic tests and the demo: a tap made from Java in the host namespace, moved into a
 * namespace of its own ({@code ip link set <tap> netns <ns>}; the fds keep working), given
 * {@value #HOST_IP}/24 there and brought up. Java plays the guest at {@value #GUEST_IP} with
 * {@link #GUEST_MAC}. Closing closes the tap, then deletes the namespace.
 */
public final class TapInNamespace implements AutoCloseable {
    public static final String HOST_IP = "10.77.0.1";
    public static final String GUEST_IP = "10.77.0.2";
    public static final byte[] HOST_IP_BYTES = {10, 77, 0, 1};
    public static final byte[] GUEST_IP_BYTES = {10, 77, 0, 2};
    public static final MacAddress GUEST_MAC = MacAddress.parse("02:00:00:77:00:02");
    public static final Duration RECEIVE_TIMEOUT = Duration.ofSeconds(5);

    public final NetNamespace ns;
    public final TapDevice tap;
    public final MacAddress tapMac;

    private TapInNamespace(NetNamespace ns, TapDevice tap, MacAddress tapMac) {
        this.ns = ns;
        this.tap = tap;
        this.tapMac = tapMac;
    }

    /** Opens a tap named vt-… from {@code config} (its name replaced) and places it in a new namespace vt-…. */
    public static TapInNamespace open(TapConfig.Builder config) throws Exception {
        return open(config, "vt");
    }

    /** Opens a tap named {@code prefix}… from {@code config} (its name replaced) and places it in a new namespace {@code prefix-}…. */
    public static TapInNamespace open(TapConfig.Builder config, String prefix) throws Exception {
        NetNamespace ns = NetNamespace.create(prefix + "-");
        TapDevice tap = null;
        try {
            tap = TapDevice.open(config.name(Names.random(prefix)).build());
            String name = tap.name();
            ns.moveIn(name);
            ns.ip("addr", "add", HOST_IP + "/24", "dev", name);
            ns.ip("link", "set", "dev", name, "up");
            MacAddress mac = ns.call(() -> {
                try (NetInterface link = NetInterface.open(name)) {
                    return link.mac();
                }
            });
            return new TapInNamespace(ns, tap, mac);
        } catch (Exception e) {
            if (tap != null) {
                tap.close();
            }
            ns.close();
            throw e;
        }
    }

    /** A UDP socket in the namespace, bound to {@value #HOST_IP} on an ephemeral port, with a bounded receive. */
    public DatagramSocket socket() throws Exception {
        return ns.call(() -> {
            DatagramSocket s = new DatagramSocket(new InetSocketAddress(HOST_IP, 0));
            s.setSoTimeout((int) RECEIVE_TIMEOUT.toMillis());
            return s;
        });
    }

    /** Adds the guest to the namespace's neighbour table, so the kernel sends to it without ARP. */
    public void addGuestNeighbour() throws Exception {
        ns.ip("neigh", "replace", GUEST_IP, "lladdr", GUEST_MAC.toString(), "dev", tap.name(), "nud", "permanent");
    }

    /** Receives one datagram's payload on {@code socket} (at most {@link #RECEIVE_TIMEOUT}). */
    public static byte[] receive(DatagramSocket socket) throws Exception {
        DatagramPacket p = new DatagramPacket(new byte[2048], 2048);
        socket.receive(p);
        return Arrays.copyOf(p.getData(), p.getLength());
    }

    /** Sends {@code payload} from {@code socket} to the guest at {@code port}. */
    public static void sendToGuest(DatagramSocket socket, int port, byte[] payload) throws Exception {
        socket.send(new DatagramPacket(payload, payload.length, InetAddress.getByName(GUEST_IP), port));
    }

    /** Writes one frame (header included) to queue {@code queue}. */
    public void write(int queue, byte[] frame) throws Exception {
        ByteBuffer buf = ByteBuffer.allocateDirect(frame.length).put(frame).flip();
        tap.endpoint(queue).write(buf);
    }

    /**
     * Reads frames from queue {@code queue} until one matches (others, such as stray broadcasts,
     * are skipped) or {@link #RECEIVE_TIMEOUT} passes; returns it, vnet header included, or null.
     */
    public byte[] readMatching(int queue, Predicate<byte[]> match) throws Exception {
        TapEndpoint endpoint = tap.endpoint(queue);
        ByteBuffer buf = ByteBuffer.allocateDirect(65536 + 64);
        long deadline = System.nanoTime() + RECEIVE_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!endpoint.awaitReadable(Duration.ofNanos(deadline - System.nanoTime()))) {
                return null;
            }
            buf.clear();
            if (endpoint.read(buf) > 0) {
                byte[] frame = new byte[buf.flip().remaining()];
                buf.get(frame);
                if (match.test(frame)) {
                    return frame;
                }
            }
        }
        return null;
    }

    @Override
    public void close() throws IOException {
        try {
            tap.close();
        } finally {
            ns.close();
        }
    }
}
