package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.it.vm.EchoTraffic;
import dev.vhostnet.it.vm.GuestEchoClient;
import dev.vhostnet.it.vm.TestVm;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapInNamespace;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The vhost-user back-end driven by a real QEMU and a real Linux guest: the test VM (QEMU TCG,
 * Debian's kernel with {@code virtio_net}) boots with its NIC as {@code -netdev vhost-user} on this
 * process's {@link VhostUserNetBackend}, whose tap sits in a network namespace. In the guest, the
 * interface gets {@value #GUEST_CIDR}, pings the namespace, and sends {@value #DATAGRAMS} datagrams
 * of {@value EchoTraffic#SIZE} bytes that a peer in the namespace checks and echoes; the guest checks
 * every echo. Needs root and QEMU ({@code qemu-system-x86}); no vhost-net, no KVM.
 */
class VhostUserGuestTest {
    static final String GUEST_CIDR = TapInNamespace.GUEST_IP + "/24";
    static final int DATAGRAMS = 4000;
    static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");

    @Test
    void aLinuxGuestOnQemuExchangesTrafficWithANamespaceThroughTheBackend() throws Exception {
        assumeTrue(Files.isExecutable(QEMU), "no " + QEMU + ": apt-get install qemu-system-x86 (./test.sh does)");
        TestVm vm = TestVm.forThisModule("testvm-vhost-user");
        Files.createDirectories(vm.resultsDir());
        Path socket = vm.resultsDir().resolve("backend.sock");
        Path guestResults = vm.resultsDir().resolve("guest-echo.txt");
        Path pingLog = vm.resultsDir().resolve("ping.txt");
        Files.deleteIfExists(socket);
        Files.deleteIfExists(guestResults);
        try (TapInNamespace net = TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vug");
                VhostUserNetBackend backend = VhostUserNetBackend.listen(socket, net.tap);
                EchoPeer peer = new EchoPeer(net.socket())) {
            String guestJob = String.join("; ",
                    "set -e",
                    "dev=$(ls /sys/class/net | grep -v '^lo$' | head -1)",
                    "echo \"guest NIC: $dev, $(cat /sys/class/net/$dev/address)\"",
                    "ip addr add " + GUEST_CIDR + " dev $dev",
                    "ip link set $dev up",
                    "busybox ping -c 5 -W 5 " + TapInNamespace.HOST_IP + " >" + pingLog + " 2>&1",
                    "exec " + Path.of(System.getProperty("java.home"), "bin", "java") + " -cp " + TestVm.testClassPath()
                            + " " + GuestEchoClient.class.getName() + " " + TapInNamespace.HOST_IP + " " + peer.port()
                            + " " + DATAGRAMS + " " + guestResults);
            int exit = vm.run(List.of("--vhost-user", socket.toString()), List.of("bash", "-c", guestJob));
            String ping = Files.exists(pingLog) ? Files.readString(pingLog) : "(no ping output)";
            System.out.println("guest ping:\n" + ping);
            if (exit != 0) {
                throw vm.failure("the guest's job exited with " + exit + "; ping: " + ping);
            }
            assertTrue(ping.contains("5 packets transmitted, 5 packets received"), ping);

            String result = Files.readString(guestResults).trim();
            System.out.println("guest: " + result + "; namespace peer: " + peer);
            Matcher m = Pattern.compile("datagrams (\\d+) bytes (\\d+) resent (\\d+) sha256 (\\w+) millis (\\d+)").matcher(result);
            assertTrue(m.matches(), result);
            assertEquals(DATAGRAMS, Integer.parseInt(m.group(1)), "datagrams the guest got back byte-exact");
            assertEquals(sha256OfAll(), m.group(4), "SHA-256 of what the guest sent: the datagrams 0..N-1 themselves");
            assertEquals(DATAGRAMS, peer.distinct(), "distinct datagrams the namespace got byte-exact");
            assertEquals(0, peer.corrupt.get(), "datagrams that reached the namespace altered");
            assertEquals(1, backend.connections(), "QEMU connected once");
            assertEquals(List.of(), backend.drops(), "connections dropped");
        }
    }

    private static String sha256OfAll() throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int i = 0; i < DATAGRAMS; i++) {
            sha.update(EchoTraffic.datagram(i));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    /** The namespace's end: checks each datagram against {@link EchoTraffic} and echoes it. */
    private static final class EchoPeer implements AutoCloseable {
        final DatagramSocket socket;
        final Thread thread;
        final BitSet seen = new BitSet();
        final AtomicInteger received = new AtomicInteger();
        final AtomicInteger corrupt = new AtomicInteger();
        volatile boolean stop;

        EchoPeer(DatagramSocket socket) throws Exception {
            this.socket = socket;
            socket.setSoTimeout(200);
            thread = new Thread(this::serve, "echo-peer");
            thread.setDaemon(true);
            thread.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        private void serve() {
            byte[] buf = new byte[EchoTraffic.SIZE + 1];
            while (!stop) {
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                try {
                    socket.receive(p);
                } catch (SocketTimeoutException e) {
                    continue;
                } catch (java.io.IOException e) {
                    return;
                }
                received.incrementAndGet();
                int seq = EchoTraffic.check(p.getData(), p.getLength());
                if (seq < 0) {
                    corrupt.incrementAndGet();
                    continue;
                }
                synchronized (seen) {
                    seen.set(seq);
                }
                try {
                    socket.send(new DatagramPacket(p.getData(), p.getLength(), p.getSocketAddress()));
                } catch (java.io.IOException e) {
                    return;
                }
            }
        }

        int distinct() {
            synchronized (seen) {
                return seen.cardinality();
            }
        }

        @Override
        public String toString() {
            return received.get() + " datagrams received, " + distinct() + " distinct, " + corrupt.get() + " altered";
        }

        @Override
        public void close() throws InterruptedException {
            stop = true;
            thread.join(5000);
            socket.close();
        }
    }
}
