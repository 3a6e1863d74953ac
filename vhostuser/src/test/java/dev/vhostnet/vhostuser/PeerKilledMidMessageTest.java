package dev.vhostnet.vhostuser;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import dev.vhostnet.tap.Tun;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * A vhost-user peer, a process of its own ({@link HalfMessagePeer}), SIGKILLed in the middle of a
 * message, on either side: the survivor ends the connection with an error that says what happened,
 * at once and without spinning, and every descriptor the connection brought is closed again.
 */
class PeerKilledMidMessageTest {
    /** CPU this process may spend in a second after the connection ended: a spinning thread takes all of it. */
    private static final long IDLE_CPU_NANOS = 400_000_000L;

    @TempDir
    Path dir;

    /** junixsocket and the JDK keep a descriptor of their own once a socket was used: open them before any snapshot. */
    @BeforeEach
    void warmUp() throws IOException {
        Path path = dir.resolve("warm-up.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path));
                AFUNIXSocket client = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(path));
                AFUNIXSocket accepted = server.accept()) {
            client.getOutputStream().write(1);
            accepted.getInputStream().read();
        }
    }

    @Test
    void aFrontendKilledInTheMiddleOfARequestIsDroppedWithItsFdClosed() throws Exception {
        assumeTrue(
                Tun.isAvailable() && Capabilities.has(Capabilities.CAP_NET_ADMIN), "needs root for the back-end's tap");
        Path socket = dir.resolve("backend.sock");
        String name;
        try (TapDevice tap = TapDevice.open(TapConfig.builder()
                        .name(Names.random("vk"))
                        .vnetHeader(12)
                        .build());
                VhostUserNetBackend backend = VhostUserNetBackend.listen(socket, tap)) {
            name = tap.name();
            Set<Integer> before = OpenFds.snapshot();
            Process peer = start("front-end", socket);
            try (BufferedReader out = output(peer)) {
                awaitLine(out, "sent");
                peer.destroyForcibly().waitFor(); // SIGKILL: the header, half the payload and an eventfd were sent
                assertTrue(backend.awaitDrops(1, Duration.ofSeconds(5)), "the back-end drops the connection at once");
            }
            assertEquals(1, backend.drops().size(), backend.drops().toString());
            String drop = backend.drops().get(0);
            assertTrue(
                    drop.startsWith("the front-end went away: ") // DISCONNECTED: a front-end that may reconnect
                            && drop.endsWith("the front-end closed the connection in the middle of a request"),
                    drop);
            assertIdle();
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
            assertFalse(backend.isRunning());
        }
        assertFalse(Command.hostHasLink(name), "no interface left behind");
    }

    @Test
    void aBackendKilledInTheMiddleOfAReplyFailsTheRequestThatWaitedForIt() throws Exception {
        Path socket = dir.resolve("backend.sock");
        Process peer = start("back-end", socket);
        try (BufferedReader out = output(peer)) {
            awaitLine(out, "listening");
            Set<Integer> before = OpenFds.snapshot();
            Thread killer = new Thread(() -> {
                try {
                    awaitLine(out, "sent");
                } catch (IOException e) {
                    // the peer is gone already
                }
                peer.destroyForcibly(); // SIGKILL: half of the GET_FEATURES reply header was sent
            });
            killer.start();
            long started = System.nanoTime();
            VhostUserException e = assertThrows(
                    VhostUserException.class,
                    () -> VhostUserFrontend.connect(socket).close());
            long millis = (System.nanoTime() - started) / 1_000_000;
            killer.join();
            assertTrue(e.getMessage().startsWith("VHOST_USER_GET_FEATURES to " + socket), e.getMessage());
            assertTrue(
                    e.getMessage().contains("the back-end closed the connection instead of replying"), e.getMessage());
            assertTrue(
                    millis < VhostUserFrontend.DEFAULT_REPLY_TIMEOUT.toMillis() / 2,
                    "failed when the back-end died, not at the reply timeout: " + millis + " ms");
            assertIdle();
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        } finally {
            peer.destroyForcibly().waitFor();
        }
    }

    private static Process start(String side, Path socket) throws IOException {
        String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                        "-cp",
                        classPath,
                        HalfMessagePeer.class.getName(),
                        side,
                        socket.toString())
                .redirectInput(ProcessBuilder.Redirect.INHERIT)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
    }

    /** The peer's standard output; closing it closes the pipe, so no descriptor of the peer stays here. */
    private static BufferedReader output(Process peer) {
        return new BufferedReader(new InputStreamReader(peer.getInputStream(), UTF_8));
    }

    private static void awaitLine(BufferedReader out, String expected) throws IOException {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            if (line.equals(expected)) {
                return;
            }
        }
        throw new IOException("the peer ended before printing '" + expected + "'");
    }

    /** Checks this process spends little CPU in the next second: nothing spins on the dead connection. */
    private static void assertIdle() throws InterruptedException {
        com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
        long cpu = os.getProcessCpuTime();
        Thread.sleep(1000);
        long used = os.getProcessCpuTime() - cpu;
        assertTrue(used < IDLE_CPU_NANOS, "CPU in the second after: " + used / 1_000_000 + " ms");
    }
}
