package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.ctl.NetDeviceCounters;
import dev.vhostnet.it.vm.EchoTraffic;
import dev.vhostnet.it.vm.GuestEchoClient;
import dev.vhostnet.it.vm.TestVm;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.vhostuser.VhostUserNetBackend;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The vhost-user back-end driven by a real QEMU and a real Linux guest: the test VM (QEMU TCG,
 * Debian's kernel with {@code virtio_net}) boots with its NIC as {@code -netdev vhost-user} on this
 * process's {@link VhostUserNetBackend}, whose tap sits in a network namespace. In the guest, the
 * interface gets {@value #GUEST_CIDR}, pings the namespace, and sends {@value #DATAGRAMS} datagrams
 * of {@value EchoTraffic#SIZE} bytes that a peer in the namespace checks and echoes; the guest checks
 * every echo. Then the back-end is closed under the running guest and a new one listens on the same
 * socket: QEMU reconnects ({@code reconnect=1}) and sets the device up again from the rings' used
 * indexes, and the guest sends as many datagrams more. Needs root and QEMU ({@code qemu-system-x86});
 * no vhost-net, no KVM.
 */
@Tag("test-vm")
class VhostUserGuestTest {
    static final String GUEST_CIDR = TapInNamespace.GUEST_IP + "/24";
    static final int DATAGRAMS = 4000;
    static final Path QEMU = Path.of("/usr/bin/qemu-system-x86_64");
    static final Duration GUEST_STEP = Duration.ofMinutes(5);

    @Test
    void aLinuxGuestOnQemuExchangesTrafficWithANamespaceThroughTheBackendAndAcrossItsRestart() throws Exception {
        assumeTrue(Files.isExecutable(QEMU), "no " + QEMU + ": apt-get install qemu-system-x86 (./test.sh does)");
        TestVm vm = TestVm.forThisModule("testvm-vhost-user");
        Path dir = vm.resultsDir();
        Files.createDirectories(dir);
        Path socket = dir.resolve("backend.sock");
        Path before = dir.resolve("guest-echo-1.txt");
        Path after = dir.resolve("guest-echo-2.txt");
        Path restarted = dir.resolve("backend-restarted");
        Path pingLog = dir.resolve("ping.txt");
        for (Path p : List.of(socket, before, after, restarted, pingLog)) {
            Files.deleteIfExists(p);
        }
        ExecutorService guestRunner = Executors.newSingleThreadExecutor();
        try (TapInNamespace net =
                        TapInNamespace.open(TapConfig.builder().vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF), "vug");
                EchoPeer peer = new EchoPeer(net.socket())) {
            VhostUserNetBackend first = VhostUserNetBackend.listen(socket, net.tap);
            String echo = echoCommand(peer);
            String guestJob = String.join(
                    "; ",
                    NIC_UP,
                    "echo \"guest NIC: $dev, $(cat /sys/class/net/$dev/address)\"",
                    "busybox ping -c 5 -W 5 " + TapInNamespace.HOST_IP + " >" + pingLog + " 2>&1",
                    echo + "0 " + DATAGRAMS + " " + before,
                    "for i in $(seq 3000); do [ -e " + restarted + " ] && break; sleep 0.1; done",
                    "[ -e " + restarted + " ]",
                    "exec " + echo + DATAGRAMS + " " + DATAGRAMS + " " + after);
            Future<Integer> guest = guestRunner.submit(
                    () -> vm.run(List.of("--vhost-user", socket.toString()), List.of("bash", "-c", guestJob)));
            try {
                awaitFile(before, guest, vm);
            } finally {
                first.close();
            }
            assertEquals(1, first.connections(), "QEMU connected once to the first back-end");
            assertEquals(List.of(), first.drops(), "connections the first back-end dropped");
            assertFalse(Files.exists(socket), "the first back-end removed its socket");
            try (VhostUserNetBackend second = VhostUserNetBackend.listen(socket, net.tap)) {
                assertTrue(
                        second.awaitRunning(Duration.ofSeconds(60)),
                        "QEMU reconnected to the new back-end and its device runs again");
                Files.writeString(restarted, "");
                int exit = guest.get(GUEST_STEP.toSeconds(), TimeUnit.SECONDS);
                String ping = Files.exists(pingLog) ? Files.readString(pingLog) : "(no ping output)";
                System.out.println("guest ping:\n" + ping);
                if (exit != 0) {
                    throw vm.failure("the guest's job exited with " + exit + "; ping: " + ping);
                }
                assertTrue(ping.contains("5 packets transmitted, 5 packets received"), ping);
                assertRound(before, 0, DATAGRAMS);
                assertRound(after, DATAGRAMS, DATAGRAMS);
                System.out.println("namespace peer: " + peer);
                assertEquals(
                        2 * DATAGRAMS, peer.distinct(), "distinct datagrams the namespace got byte-exact, both rounds");
                assertEquals(0, peer.corrupt.get(), "datagrams that reached the namespace altered");
                assertEquals(1, second.connections(), "QEMU reconnected once");
                assertEquals(List.of(), second.drops(), "connections the second back-end dropped");
            }
        } finally {
            guestRunner.shutdownNow();
        }
    }

    static final int PER_PAIR = 2000;

    /** The guest's job begins so: its one NIC ($dev) up at {@link #GUEST_CIDR}, any failure ending the job. */
    static final String NIC_UP = String.join(
            "; ",
            "set -e",
            "dev=$(ls /sys/class/net | grep -v '^lo$' | head -1)",
            "ip addr add " + GUEST_CIDR + " dev $dev",
            "ip link set $dev up");

    /** The guest's {@link GuestEchoClient} to {@code peer}, its first datagram, count and results file to append. */
    private static String echoCommand(EchoPeer peer) {
        return Path.of(System.getProperty("java.home"), "bin", "java")
                + " -Xmx128m --enable-native-access=ALL-UNNAMED -cp " + TestVm.testClassPath() + " "
                + GuestEchoClient.class.getName() + " " + TapInNamespace.HOST_IP + " " + peer.port() + " ";
    }

    /**
     * QEMU with {@code -netdev vhost-user,queues=2} and {@code server=on} (it listens) against the
     * back-end in client mode on a two-queue tap: the guest's {@code virtio_net} enables both pairs,
     * and two echo clients pinned to its two CPUs send on both (virtio_net maps CPU {@code i} to TX
     * queue {@code i}; the tap sends each flow's answers back to the queue it came from): each pair
     * must move frames both ways. Then the back-end is closed under the guest and a new one dials
     * QEMU again, which sets both pairs up again, and the same runs once more.
     */
    @Test
    void aGuestOnTwoQueuePairsMovesTrafficOnBothWhileTheBackendDialsQemu() throws Exception {
        assumeTrue(Files.isExecutable(QEMU), "no " + QEMU + ": apt-get install qemu-system-x86 (./test.sh does)");
        TestVm vm = TestVm.forThisModule("testvm-vhost-user-mq");
        Path dir = vm.resultsDir();
        Files.createDirectories(dir);
        Path socket = dir.resolve("qemu.sock");
        List<Path> rounds = List.of(
                dir.resolve("guest-echo-1-cpu0.txt"),
                dir.resolve("guest-echo-1-cpu1.txt"),
                dir.resolve("guest-echo-2-cpu0.txt"),
                dir.resolve("guest-echo-2-cpu1.txt"));
        Path restarted = dir.resolve("backend-restarted");
        Path pingLog = dir.resolve("ping.txt");
        Path queues = dir.resolve("queues.txt");
        for (Path p : List.of(socket, restarted, pingLog, queues)) {
            Files.deleteIfExists(p);
        }
        for (Path p : rounds) {
            Files.deleteIfExists(p);
        }
        ExecutorService guestRunner = Executors.newSingleThreadExecutor();
        try (TapInNamespace net = TapInNamespace.open(
                        TapConfig.builder()
                                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                                .queues(2),
                        "vuq");
                EchoPeer peer = new EchoPeer(net.socket())) {
            VhostUserNetBackend first = VhostUserNetBackend.on(net.tap).dial(socket);
            String echo = echoCommand(peer);
            String guestJob = String.join(
                    "; ",
                    NIC_UP,
                    "for q in /sys/class/net/$dev/queues/tx-*; do echo \"$q xps_cpus $(cat $q/xps_cpus)\"; done >"
                            + queues,
                    "busybox ping -c 5 -W 5 " + TapInNamespace.HOST_IP + " >" + pingLog + " 2>&1",
                    onBothCpus(echo, 0, rounds.get(0), rounds.get(1)),
                    "for i in $(seq 3000); do [ -e " + restarted + " ] && break; sleep 0.1; done",
                    "[ -e " + restarted + " ]",
                    onBothCpus(echo, 2 * PER_PAIR, rounds.get(2), rounds.get(3)));
            Future<Integer> guest = guestRunner.submit(() -> vm.run(
                    List.of(
                            "--smp", // one echo client pinned to each guest CPU: two vCPUs (no nested KVM here)
                            "2",
                            "--vhost-user",
                            socket.toString(),
                            "--vhost-user-queues",
                            "2",
                            "--vhost-user-server"),
                    List.of("bash", "-c", guestJob)));
            try {
                awaitFile(rounds.get(0), guest, vm);
                awaitFile(rounds.get(1), guest, vm);
                awaitServedPairs(first, 2, "queue pairs the guest's driver enabled and the device serves");
            } finally {
                first.close();
            }
            System.out.println("guest queues:\n" + Files.readString(queues));
            assertEquals(1, first.connections(), "the first back-end dialled QEMU once");
            assertEquals(List.of(), first.drops(), "connections the first back-end dropped");
            assertTrafficOnBothPairs(first);
            try (VhostUserNetBackend second = VhostUserNetBackend.on(net.tap).dial(socket)) {
                assertTrue(
                        second.awaitRunning(Duration.ofSeconds(60)),
                        "the new back-end dialled QEMU and its device runs again");
                awaitServedPairs(second, 2, "queue pairs served after the reconnection");
                Files.writeString(restarted, "");
                awaitFile(rounds.get(2), guest, vm);
                awaitFile(rounds.get(3), guest, vm);
                // Counted while QEMU still runs: once it exits, a client back-end dials again (by design).
                int connections = second.connections();
                List<String> drops = List.copyOf(second.drops());
                int exit = guest.get(GUEST_STEP.toSeconds(), TimeUnit.SECONDS);
                String ping = Files.exists(pingLog) ? Files.readString(pingLog) : "(no ping output)";
                if (exit != 0) {
                    throw vm.failure("the guest's job exited with " + exit + "; ping: " + ping);
                }
                assertTrue(ping.contains("5 packets transmitted, 5 packets received"), ping);
                for (int r = 0; r < rounds.size(); r++) {
                    assertRound(rounds.get(r), r * PER_PAIR, PER_PAIR);
                }
                System.out.println("namespace peer: " + peer);
                assertEquals(4 * PER_PAIR, peer.distinct(), "distinct datagrams the namespace got byte-exact");
                assertEquals(0, peer.corrupt.get(), "datagrams that reached the namespace altered");
                assertTrafficOnBothPairs(second);
                assertEquals(1, connections, "the second back-end dialled QEMU once while it ran");
                assertEquals(List.of(), drops, "connections the second back-end dropped while QEMU ran");
            }
        } finally {
            guestRunner.shutdownNow();
        }
    }

    /** Two echo clients at once, one pinned to each guest CPU, datagrams {@code first}.. and {@code first + PER_PAIR}... */
    private static String onBothCpus(String echo, int first, Path cpu0, Path cpu1) {
        return "taskset -c 0 " + echo + first + " " + PER_PAIR + " " + cpu0 + " & a=$!; "
                + "taskset -c 1 " + echo + (first + PER_PAIR) + " " + PER_PAIR + " " + cpu1 + " & b=$!; "
                + "wait $a; wait $b";
    }

    private static void awaitServedPairs(VhostUserNetBackend backend, int pairs, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (backend.servedPairs() != pairs && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(pairs, backend.servedPairs(), what);
    }

    private static void assertTrafficOnBothPairs(VhostUserNetBackend backend) {
        List<NetDeviceCounters.Pair> pairs = backend.counters().pairs();
        String counts = "";
        for (int p = 0; p < 2; p++) {
            counts += String.format(
                    " pair %d: %d TX, %d RX;",
                    p,
                    pairs.get(p).tx().orElseThrow().packets(),
                    pairs.get(p).rx().orElseThrow().packets());
        }
        System.out.println("frames the back-end moved:" + counts);
        for (int p = 0; p < 2; p++) {
            assertTrue(pairs.get(p).tx().orElseThrow().packets() > 0, "the guest sent on pair " + p + ":" + counts);
            assertTrue(pairs.get(p).rx().orElseThrow().packets() > 0, "the guest received on pair " + p + ":" + counts);
        }
    }

    /** Waits for the guest to write {@code file}, failing at once if the guest's job ends first. */
    private static void awaitFile(Path file, Future<Integer> guest, TestVm vm) throws Exception {
        long deadline = System.nanoTime() + GUEST_STEP.toNanos();
        while (!Files.exists(file)) {
            if (guest.isDone()) {
                throw vm.failure(
                        "the guest's job ended (exit " + guest.get() + ") before it wrote " + file.getFileName());
            }
            assertTrue(
                    System.nanoTime() < deadline,
                    () -> "no " + file.getFileName() + " from the guest within " + GUEST_STEP);
            Thread.sleep(100);
        }
    }

    /** The guest's report of datagrams {@code first}.. : all {@code count} echoed byte-exact, and what it sent was those datagrams. */
    private static void assertRound(Path results, int first, int count) throws Exception {
        String result = Files.readString(results).trim();
        System.out.println("guest, datagrams from " + first + ": " + result);
        Matcher m = Pattern.compile("datagrams (\\d+) bytes (\\d+) resent (\\d+) sha256 (\\w+) millis (\\d+)")
                .matcher(result);
        assertTrue(m.matches(), result);
        assertEquals(count, Integer.parseInt(m.group(1)), "datagrams the guest got back byte-exact");
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (int i = first; i < first + count; i++) {
            sha.update(EchoTraffic.datagram(i));
        }
        assertEquals(HexFormat.of().formatHex(sha.digest()), m.group(4), "SHA-256 of what the guest sent");
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
        public void close() {
            stop = true;
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            socket.close();
        }
    }
}
