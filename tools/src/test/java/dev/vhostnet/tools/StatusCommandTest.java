package dev.vhostnet.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vhostnet.bench.Json;
import dev.vhostnet.broker.BrokerClient;
import dev.vhostnet.broker.BrokerRequest;
import dev.vhostnet.broker.BrokeredTap;
import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.Tun;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * {@code vhostnet status} against the daemons run as the CLI runs them (in this process, stopped as
 * by a signal), its {@code --json} read back with a JSON parser; and against sockets that answer
 * badly.
 */
class StatusCommandTest {
    @TempDir
    Path dir;

    /** A command's exit code and output. */
    private record Run(int exit, String out, String err) {}

    private static Run vhostnet(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private static JsonNode json(Run run) throws IOException {
        assertEquals(0, run.exit(), run.err());
        return new ObjectMapper().readTree(run.out());
    }

    /** Runs a daemon command on a thread of its own; the returned future's thread is interrupted to stop it. */
    private static Thread daemon(CompletableFuture<Run> result, String... args) {
        Thread t = new Thread(() -> result.complete(vhostnet(args)), "daemon " + args[0]);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void awaitSocket(Path path, CompletableFuture<Run> daemon) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!Files.exists(path)) {
            assertTrue(!daemon.isDone(), () -> "the daemon ended: " + daemon.join());
            assertTrue(System.nanoTime() < deadline, "no status socket at " + path);
            Thread.sleep(20);
        }
    }

    private static void assumeTaps() {
        assumeTrue(Tun.isAvailable() && Capabilities.has(Capabilities.CAP_NET_ADMIN), "needs /dev/net/tun and root");
    }

    @Test
    void aVhostUserBackEndOnTwoQueuePairsShowsItsDeviceCountersAndTapAsJsonAndAsATable() throws Exception {
        assumeTaps();
        Path socket = dir.resolve("vu.sock");
        Path status = dir.resolve("vu.sock.status");
        String tap = Names.random("vs");
        CompletableFuture<Run> result = new CompletableFuture<>();
        Thread t = daemon(result, "vhost-user", "--socket", socket.toString(), "--tap", tap, "--queues", "2");
        try {
            awaitSocket(status, result);
            assertEquals(
                    "rw-------",
                    PosixFilePermissions.toString(Files.getPosixFilePermissions(status)),
                    "only its owner may connect");

            JsonNode doc = json(vhostnet("status", "--socket", status.toString(), "--json"));
            assertEquals("vhost-user", doc.get("daemon").asText());
            assertEquals(ProcessHandle.current().pid(), doc.get("pid").asLong());
            assertEquals(socket.toAbsolutePath().toString(), doc.get("socket").asText());
            assertEquals(0, doc.get("frontends").get("connections").asInt(), "no QEMU came yet");
            JsonNode device = doc.get("device");
            assertEquals("EMULATED", device.get("backend").asText());
            assertEquals(2, device.get("pairs").size(), "one entry per queue pair offered, before any QEMU");
            JsonNode total = device.get("totals");
            assertEquals(0, total.get("tx").get("packets").asLong(), "counted, and nothing moved yet");
            assertEquals(0, total.get("guestViolations").asLong());
            assertTrue(device.get("tap").get("rxPackets").isNumber(), "the tap's statistics: " + device);

            Run table = vhostnet("status", "--socket", status.toString());
            assertEquals(0, table.exit(), table.err());
            assertTrue(table.out().contains("vhostnet vhost-user (pid "), table.out());
            assertTrue(
                    table.out().lines().anyMatch(l -> l.startsWith("pair ") && l.contains("rx packets")), table.out());
            assertTrue(table.out().lines().anyMatch(l -> l.matches("total( +0){9}")), table.out());
            assertTrue(table.out().contains("tap " + tap), table.out());
        } finally {
            t.interrupt();
        }
        assertEquals(
                0, result.get(30, TimeUnit.SECONDS).exit(), () -> result.join().err());
        assertTrue(!Files.exists(status), "the status socket goes with the daemon");
    }

    @Test
    void aBrokerShowsItsGrantsRefusalsAndLeases() throws Exception {
        assumeTaps();
        Path socket = dir.resolve("broker.sock");
        Path status = dir.resolve("broker-status.sock");
        String prefix = Names.random("vq").substring(0, 8) + "-";
        CompletableFuture<Run> result = new CompletableFuture<>();
        Thread t = daemon(
                result,
                "serve",
                "--socket",
                socket.toString(),
                "--status-socket",
                status.toString(),
                "--allow-uid",
                "0",
                "--tap-prefix",
                "0=" + prefix,
                "--state-dir",
                dir.toString());
        try {
            awaitSocket(status, result);
            try (BrokeredTap granted = BrokerClient.openTap(
                    socket, BrokerRequest.builder().name(prefix + "a").build())) {
                assertThrows(
                        IOException.class,
                        () -> BrokerClient.openTap(
                                socket, BrokerRequest.builder().name("other-a").build()),
                        "a name without the uid's prefix is denied");

                JsonNode doc = json(vhostnet("status", "--socket", status.toString(), "--json"));
                assertEquals("serve", doc.get("daemon").asText());
                assertEquals(2, doc.get("accepted").asLong());
                assertEquals(1, doc.get("granted").asLong());
                assertEquals(1, doc.get("refusals").asLong());
                assertEquals(1, doc.get("refused").get("DENIED").asLong(), doc.toString());
                assertEquals(1, doc.get("leases").size());
                JsonNode lease = doc.get("leases").get(0);
                assertEquals(granted.name(), lease.get("tap").asText());
                assertTrue(lease.get("statistics").get("txPackets").isNumber(), lease.toString());

                Run table = vhostnet("status", "--socket", status.toString());
                assertTrue(table.out().contains("taps granted 1 (vhost-net fds 0, persistent 0)"), table.out());
                assertTrue(table.out().contains("refused       1 (DENIED 1)"), table.out());
            }
        } finally {
            t.interrupt();
        }
        assertEquals(
                0, result.get(30, TimeUnit.SECONDS).exit(), () -> result.join().err());
    }

    @Test
    void aPeerOfAnotherUserIsAnsweredWithNothingEvenWhereTheModeLetsItConnect() throws Exception {
        Path setpriv = Path.of("/usr/bin/setpriv");
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(
                Syscalls.geteuid() == 0 && Files.isExecutable(setpriv) && Files.isExecutable(python),
                "needs root, setpriv and python3 to connect as another user");
        Path path = dir.resolve("test.status");
        try (StatusSocket status = StatusSocket.open(path, () -> Json.object("daemon", "test"))) {
            JsonNode doc = json(vhostnet("status", "--socket", path.toString(), "--json"));
            assertEquals("test", doc.get("daemon").asText(), "root is answered");

            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
            Process nobody = new ProcessBuilder(
                            setpriv.toString(),
                            "--reuid=65534",
                            "--regid=65534",
                            "--clear-groups",
                            python.toString(),
                            "-c",
                            "import socket, sys\n"
                                    + "s = socket.socket(socket.AF_UNIX)\n"
                                    + "s.settimeout(5)\n"
                                    + "s.connect(sys.argv[1])\n"
                                    + "print(len(s.recv(65536)))",
                            path.toString())
                    .redirectErrorStream(true)
                    .start();
            assertTrue(nobody.waitFor(20, TimeUnit.SECONDS), "the peer finished");
            String got = new String(nobody.getInputStream().readAllBytes()).trim();
            assertEquals("0", got, "uid 65534 connected and was closed without a byte");
        }
    }

    @Test
    void anAnswerThatIsNotAStatusDocumentFailsWithTheReasonNotACrash() throws Exception {
        assertBadAnswer(out -> out.write("not json\n".getBytes()), "Unrecognized token");
        assertBadAnswer(out -> out.write(new byte[StatusCommand.MAX_DOCUMENT + 1]), "sent more than");
        assertBadAnswer(out -> {}, "closed without an answer");
        assertBadAnswer(
                out -> {
                    out.write('{');
                    Thread.sleep(2000);
                },
                "no complete answer");
    }

    @FunctionalInterface
    private interface Answer {
        void write(OutputStream out) throws Exception;
    }

    private void assertBadAnswer(Answer answer, String expected) throws Exception {
        Path path = dir.resolve("bad.sock");
        try (AFUNIXServerSocket server = AFUNIXServerSocket.bindOn(AFUNIXSocketAddress.of(path))) {
            Thread peer = new Thread(() -> {
                try (AFUNIXSocket s = server.accept()) {
                    answer.write(s.getOutputStream());
                } catch (Exception e) {
                    // the client hung up first: what it does next is the test
                }
            });
            peer.setDaemon(true);
            peer.start();
            Run run = vhostnet("status", "--socket", path.toString(), "--timeout-ms", "500");
            assertEquals(1, run.exit(), run.out() + run.err());
            assertTrue(run.err().contains(expected), run.err());
            assertEquals("", run.out(), "nothing printed from a bad answer");
            peer.join(5000);
        }
    }
}
