package dev.vhostnet.bench;

import static dev.vhostnet.tap.Command.run;

import dev.vhostnet.sys.Fcntl;
import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.Hint;
import dev.vhostnet.sys.SocketUapi;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The bench's network: a namespace of its own ({@code ip netns add vb-…}, IPv6 off) holding a tap
 * opened here with a 12-byte vnet header, {@value #HOST_IP}/24 on it, and a permanent neighbour
 * entry for the guest at {@value #GUEST_IP}, so the namespace sends to the guest without ARP.
 * The namespace's UDP endpoints ({@link Peer}) run on threads of this process that joined it; one
 * more idle thread there lends its {@code /proc/<pid>/task/<tid>/net/dev} to read the tap's counters
 * ({@link #tapRxPackets()}).
 *
 * <p>A private, minimal copy of what the tap module's test helpers ({@code NetNs},
 * {@code TapInNamespace}) do, because main code cannot depend on a test jar.
 */
final class BenchNet implements AutoCloseable {
    static final String HOST_IP = "10.78.0.1";
    static final String GUEST_IP = "10.78.0.2";
    static final byte[] HOST_IP_BYTES = {10, 78, 0, 1};
    static final byte[] GUEST_IP_BYTES = {10, 78, 0, 2};
    static final MacAddress GUEST_MAC = MacAddress.parse("02:00:00:78:00:02");
    /** A locally administered address no interface of the bench has. */
    static final MacAddress ELSEWHERE_MAC = MacAddress.parse("02:00:00:78:00:fe");

    private static final Pattern ETHER = Pattern.compile("link/ether ([0-9a-f:]{17})");

    final String ns;
    final TapDevice tap;
    final MacAddress tapMac;
    private final CountDownLatch closing = new CountDownLatch(1);
    private Path netDev;

    private BenchNet(String ns, TapDevice tap, MacAddress tapMac) {
        this.ns = ns;
        this.tap = tap;
        this.tapMac = tapMac;
    }

    /** A tap of {@code queues} queues (more than one: multiqueue) in a new namespace. */
    static BenchNet open(int queues) throws Exception {
        String ns = "vb-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffffL);
        run("ip", "netns", "add", ns);
        TapDevice tap = null;
        try {
            run(
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    "sysctl",
                    "-q",
                    "-w",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1");
            run("ip", "-n", ns, "link", "set", "lo", "up");
            tap = TapDevice.open(TapConfig.builder()
                    .name("vb%d")
                    .queues(queues)
                    .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                    .build());
            String name = tap.name();
            run("ip", "link", "set", "dev", name, "netns", ns);
            run("ip", "-n", ns, "addr", "add", HOST_IP + "/24", "dev", name);
            run("ip", "-n", ns, "link", "set", "dev", name, "up");
            run(
                    "ip",
                    "-n",
                    ns,
                    "neigh",
                    "replace",
                    GUEST_IP,
                    "lladdr",
                    GUEST_MAC.toString(),
                    "dev",
                    name,
                    "nud",
                    "permanent");
            Matcher m = ETHER.matcher(run("ip", "-n", ns, "-o", "link", "show", "dev", name));
            if (!m.find()) {
                throw new IOException("no MAC address for " + name + " in namespace " + ns);
            }
            BenchNet net = new BenchNet(ns, tap, MacAddress.parse(m.group(1)));
            net.netDev = net.joinedThread().resolve("net").resolve("dev");
            return net;
        } catch (Exception | Error e) {
            if (tap != null) {
                tap.close();
            }
            run("ip", "netns", "del", ns);
            throw e;
        }
    }

    /** Starts the idle thread in the namespace; returns its {@code /proc} directory. */
    private Path joinedThread() throws Exception {
        CompletableFuture<Path> proc = new CompletableFuture<>();
        Thread t = startInNamespace("bench-netns", () -> {
            proc.complete(ThreadCpu.currentThread());
            closing.await();
        });
        try {
            return proc.get(10, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            t.interrupt();
            throw new IOException("no thread of this process could join namespace " + ns, e);
        }
    }

    /** The tap's {@code rx_packets}: the frames written to it, from the guest's side, so far. */
    long tapRxPackets() throws IOException {
        return TapRxPackets.procNetDev(netDev, tap.name());
    }

    /** A frame from the guest to {@code dstPort} at {@value #HOST_IP}. */
    byte[] frameToHost(int srcPort, int dstPort, int size) {
        return Udp.frame(GUEST_MAC, tapMac, GUEST_IP_BYTES, HOST_IP_BYTES, srcPort, dstPort, size);
    }

    /**
     * A TX frame for {@code count}: to the sink at {@code dstPort} ({@link TxCount#SINK}), or with
     * {@link TxCount#TAP} to {@link #ELSEWHERE_MAC}, which the stack drops as soon as the tap has
     * counted it ({@code PACKET_OTHERHOST} in {@code ip_rcv_core}), as it drops DPDK's txonly
     * frames: no IP, UDP or sink work per frame on the CPU the driver shares.
     */
    byte[] txFrame(TxCount count, int srcPort, int dstPort, int size) {
        return txFrame(tapMac, count, srcPort, dstPort, size);
    }

    static byte[] txFrame(MacAddress tapMac, TxCount count, int srcPort, int dstPort, int size) {
        MacAddress dst = count == TxCount.TAP ? ELSEWHERE_MAC : tapMac;
        return Udp.frame(GUEST_MAC, dst, GUEST_IP_BYTES, HOST_IP_BYTES, srcPort, dstPort, size);
    }

    /** Starts {@code body} on a daemon thread that has joined this namespace. */
    Thread startInNamespace(String name, ThrowingRunnable body) {
        Thread t = new Thread(
                () -> {
                    try (Fd fd = Fd.open("/var/run/netns/" + ns, Fcntl.O_RDONLY, Hint.NONE)) {
                        Syscalls.setns(fd, SocketUapi.CLONE_NEWNET);
                    } catch (Exception e) {
                        throw new IllegalStateException("cannot join namespace " + ns, e);
                    }
                    try {
                        body.run();
                    } catch (java.nio.channels.ClosedChannelException | InterruptedException closing) {
                        // the peer is closing: its channels closed, its threads interrupted
                    } catch (Exception e) {
                        System.err.println(name + ": " + e);
                    }
                },
                name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Override
    public void close() throws IOException {
        closing.countDown();
        try {
            tap.close();
        } finally {
            run("ip", "netns", "del", ns);
        }
    }
}
