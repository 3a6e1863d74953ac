package dev.vhostnet.broker;

import static dev.vhostnet.broker.BrokerFixture.eventually;
import static dev.vhostnet.broker.BrokerFixture.linkExists;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/** Issue 17 items 3–7: what a hostile local user, a full fd table or a killed broker cannot do. */
class BrokerHardeningTest {
    private static final int NOBODY = 65534;

    private Path dir;
    private Path socket;
    private String prefix;
    private Broker broker;
    private final List<String> linksToDelete = new ArrayList<>();
    private final List<Process> children = new ArrayList<>();

    @BeforeEach
    void setUp() throws Exception {
        BrokerFixture.assumeTaps();
        dir = BrokerFixture.socketDirectory();
        socket = dir.resolve("broker.sock");
        prefix = "vh" + BrokerFixture.random() + "-";
    }

    @AfterEach
    void tearDown() throws Exception {
        for (Process p : children) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (broker != null) {
            broker.close();
        }
        for (String name : linksToDelete) {
            if (linkExists(name)) {
                Command.exec(List.of("ip", "link", "delete", name));
            }
        }
        BrokerFixture.deleteTree(dir);
    }

    private Broker.Builder builder(BrokerPolicy policy) {
        return Broker.builder(socket, policy)
                .readTimeout(Duration.ofMillis(700))
                .stateDirectory(dir.resolve("state"));
    }

    private BrokerPolicy rootPolicy() {
        return BrokerPolicy.builder()
                .allowUid(0)
                .tapPrefix(0, prefix)
                .allowPersistent(true)
                .build();
    }

    private static AFUNIXSocket connect(Path socket) throws IOException {
        AFUNIXSocket s = AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket));
        s.setSoTimeout(10_000);
        return s;
    }

    // ---- item 3: admission before reading, one deadline, a cap per uid, the socket's mode

    @Test
    void aPeerThePolicyDoesNotAdmitIsRefusedBeforeItSendsAByte() throws Exception {
        broker = builder(BrokerPolicy.builder()
                        .allowUid(NOBODY)
                        .tapPrefix(NOBODY, prefix)
                        .build())
                .start();
        try (AFUNIXSocket s = connect(socket)) {
            BrokerReply reply = BrokerReply.decode(Wire.read(s.getInputStream()));
            assertEquals(BrokerReply.Code.DENIED, reply.code(), reply.message());
            assertTrue(reply.message().contains("uid 0 gid 0 is not allowed"), reply.message());
        }
    }

    @Test
    void aClientDrippingItsRequestIsCutOffAtOneDeadlineForTheWholeRequest() throws Exception {
        broker = builder(rootPolicy()).start();
        byte[] request = BrokerRequest.builder().name(prefix + "drip").build().encode();
        try (AFUNIXSocket s = connect(socket)) {
            CompletableFuture<BrokerReply> reply = CompletableFuture.supplyAsync(() -> {
                try {
                    return BrokerReply.decode(Wire.read(s.getInputStream()));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            OutputStream out = s.getOutputStream();
            // one byte every 150 ms: each read waits far less than the 700 ms timeout, the whole takes seconds
            for (int i = 0; i < request.length && !reply.isDone(); i++) {
                try {
                    out.write(request[i]);
                } catch (IOException e) {
                    break;
                }
                Thread.sleep(150);
            }
            BrokerReply got = reply.get(10, TimeUnit.SECONDS);
            assertEquals(BrokerReply.Code.TIMEOUT, got.code(), got.message());
        }
        assertFalse(linkExists(prefix + "drip"));
    }

    @Test
    void oneUidCannotTakeEverySlot() throws Exception {
        broker = builder(rootPolicy())
                .maxClients(64)
                .maxClientsPerUid(2)
                .readTimeout(Duration.ofSeconds(10))
                .start();
        try (AFUNIXSocket a = connect(socket);
                AFUNIXSocket b = connect(socket);
                AFUNIXSocket c = connect(socket)) {
            BrokerReply third = BrokerReply.decode(Wire.read(c.getInputStream()));
            assertEquals(BrokerReply.Code.BUSY, third.code());
            assertTrue(third.message().contains("uid 0 has 2 connection(s)"), third.message());
        }
        assertTrue(
                eventually(() -> {
                    try (BrokeredTap tap = BrokerClient.openTap(
                            socket, BrokerRequest.builder().name(prefix + "s").build())) {
                        return tap.name().equals(prefix + "s");
                    } catch (IOException e) {
                        return false;
                    }
                }),
                "the uid's slots did not come back when its connections closed");
    }

    @Test
    void theSocketIsNotWorldWritableByDefaultAndTakesTheGroupGiven() throws Exception {
        broker = builder(rootPolicy()).socketGroup(Integer.toString(NOBODY)).start();
        assertEquals(
                "rw-rw----",
                PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
        assertEquals(NOBODY, (int) Files.getAttribute(socket, "unix:gid", LinkOption.NOFOLLOW_LINKS));
    }

    /**
     * 100 connections of a user the policy does not admit, each holding its connection and
     * sending a byte now and then, while an admitted client asks for a tap: it gets one.
     */
    @Test
    void aFloodOfConnectionsFromAnotherUserDoesNotMakeAdmittedClientsBusy() throws Exception {
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/setpriv")) && Files.isExecutable(Path.of("/usr/bin/python3")),
                "needs setpriv and python3 to connect as uid 65534");
        broker = builder(rootPolicy()).socketMode("rw-rw-rw-").start();
        String flood = String.join(
                "\n",
                "import socket, sys, time",
                "held = []",
                "for i in range(100):",
                "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)",
                "    try:",
                "        s.connect(sys.argv[1]); held.append(s)",
                "    except OSError:",
                "        pass",
                "print(len(held), flush=True)",
                "for t in range(100):",
                "    for s in held:",
                "        try: s.send(b'V')",
                "        except OSError: pass",
                "    time.sleep(0.2)");
        Process p = new ProcessBuilder(
                        "/usr/bin/setpriv",
                        "--reuid=" + NOBODY,
                        "--regid=" + NOBODY,
                        "--clear-groups",
                        "/usr/bin/python3",
                        "-c",
                        flood,
                        socket.toString())
                .redirectErrorStream(true)
                .start();
        children.add(p);
        String connected = new java.io.BufferedReader(
                        new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))
                .readLine();
        assertTrue(connected != null && Integer.parseInt(connected.trim()) > 0, "the flood connected: " + connected);
        Thread.sleep(300);
        try (BrokeredTap tap = BrokerClient.openTap(
                socket, BrokerRequest.builder().name(prefix + "ok").build())) {
            assertEquals(prefix + "ok", tap.name());
        }
    }

    // ---- item 4: accept errors

    @Test
    void aRemovedSocketFileEndsAcceptingWithACauseTheCommandCanExitOn() throws Exception {
        broker = builder(rootPolicy()).start();
        Files.delete(socket);
        IOException cause = broker.failed().toCompletableFuture().get(10, TimeUnit.SECONDS);
        assertTrue(cause.getMessage().contains("removed, moved or replaced"), cause.getMessage());
    }

    // ---- item 5: the socket path

    @Test
    void refusesAnythingAtTheSocketPathButAStaleSocketAndChangesNothing() throws Exception {
        Files.writeString(socket, "precious");
        assertThrows(IOException.class, () -> builder(rootPolicy()).start());
        assertEquals("precious", Files.readString(socket));
        Files.delete(socket);

        Files.createSymbolicLink(socket, dir.resolve("nowhere"));
        assertThrows(IOException.class, () -> builder(rootPolicy()).start());
        assertTrue(Files.isSymbolicLink(socket), "the dangling link was removed");
        Files.delete(socket);

        Path rootFile = Files.writeString(dir.resolve("root-only"), "secret");
        Files.setPosixFilePermissions(rootFile, PosixFilePermissions.fromString("rw-------"));
        Files.createSymbolicLink(socket, rootFile);
        assertThrows(
                IOException.class,
                () -> builder(rootPolicy()).socketMode("rw-rw-rw-").start());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(rootFile)));
        Files.delete(socket);

        Files.createDirectory(socket);
        assertThrows(IOException.class, () -> builder(rootPolicy()).start());
        assertTrue(Files.isDirectory(socket, LinkOption.NOFOLLOW_LINKS));
    }

    // ---- item 6: logs

    /** What the broker logs (slf4j-simple writes to System.err) while {@code action} runs. */
    private static String logOf(ThrowingRunnable action) throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    @FunctionalInterface
    private interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void aTapNameWithANewlineIsLoggedEscapedOnOneLine() throws Exception {
        broker = builder(rootPolicy()).start();
        byte[] forged = BrokerRequest.builder().name("a_FORGED").build().encode();
        forged[8 + 1 + 1] = '\n';
        String log = logOf(() -> {
            BrokerReply reply = BrokerFixture.exchange(socket, forged).reply();
            assertEquals(BrokerReply.Code.INVALID, reply.code());
            Thread.sleep(200);
        });
        assertTrue(log.contains("a\\nFORGED"), log);
        assertFalse(log.lines().anyMatch(l -> l.startsWith("FORGED")), "a forged line was written:\n" + log);
    }

    @Test
    void aFloodOfRefusedConnectionsWritesABoundedLogAndLeavesNoDescriptor() throws Exception {
        broker = builder(BrokerPolicy.builder()
                        .allowUid(NOBODY)
                        .tapPrefix(NOBODY, prefix)
                        .build())
                .start();
        BrokerFixture.exchange(socket, new byte[8]);
        Thread.sleep(1200);
        Set<Integer> before = OpenFds.snapshot();
        int[] connections = {0};
        String log = logOf(() -> {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
            while (System.nanoTime() < end) {
                try (AFUNIXSocket s = connect(socket)) {
                    InputStream in = s.getInputStream();
                    in.read();
                }
                connections[0]++;
            }
            Thread.sleep(200);
        });
        long refusals = log.lines().filter(l -> l.contains("refused")).count();
        assertTrue(
                connections[0] > 200, "only " + connections[0] + " connections: the bound below would prove nothing");
        assertTrue(refusals <= 25, refusals + " refusal lines for " + connections[0] + " connections");
        assertTrue(
                eventually(() -> OpenFds.leakedSince(before).isEmpty()),
                () -> "leaked: " + OpenFds.leakedSince(before));
    }

    // ---- item 7: taps a killed broker left

    @Test
    void onStartDeletesTapsUnderItsPrefixesNoLeaseHoldsAndKeepsThePersistentOnesItLeft() throws Exception {
        String kept = prefix + "kept";
        linksToDelete.add(kept);
        broker = builder(rootPolicy()).start();
        BrokerClient.openTap(
                        socket,
                        BrokerRequest.builder().name(kept).persistent(true).build())
                .close();
        broker.close();
        broker = null;
        assertTrue(linkExists(kept));

        // what a client leaves when the broker is killed: its tap, made persistent and its own through the fd
        String leftover = prefix + "left";
        linksToDelete.add(leftover);
        try (TapDevice tap = TapDevice.open(TapConfig.builder().name(leftover).build())) {
            tap.queue(0).fd().ioctl(TunUapi.TUNSETPERSIST, 1);
            tap.queue(0).fd().ioctl(TunUapi.TUNSETOWNER, NOBODY);
        }
        String elsewhere = "vz" + BrokerFixture.random();
        linksToDelete.add(elsewhere);
        try (TapDevice tap = TapDevice.open(TapConfig.builder().name(elsewhere).build())) {
            tap.setPersist(true);
        }
        assertTrue(linkExists(leftover));

        broker = builder(rootPolicy()).start();
        assertFalse(linkExists(leftover), "the leftover tap outlived the broker's restart");
        assertTrue(linkExists(kept), "the persistent tap the broker left on purpose was deleted");
        assertTrue(linkExists(elsewhere), "a tap outside the broker's prefixes was deleted");
    }
}
