package dev.vhostnet.tools;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.broker.BrokerClient;
import dev.vhostnet.broker.BrokerRequest;
import dev.vhostnet.broker.BrokeredTap;
import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.TunUapi;
import dev.vhostnet.tap.Tun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;

/**
 * Fault injection on a real {@code vhostnet serve} process: SIGKILL in the middle of a lease, a
 * descriptor limit low enough for {@code EMFILE}, the socket file removed under it.
 */
class ServeProcessTest {
    private Path dir;
    private Path socket;
    private String prefix;
    private Process serve;
    private Set<Integer> fdsAtStart;

    @BeforeEach
    void setUp() throws Exception {
        assumeTrue(Tun.isAvailable() && Capabilities.has(Capabilities.CAP_NET_ADMIN), "needs /dev/net/tun and root");
        dir = Files.createTempDirectory(Path.of("/tmp"), "vnserve-");
        socket = dir.resolve("broker.sock");
        prefix = "vp"
                + HexFormat.of()
                        .toHexDigits(ThreadLocalRandom.current().nextInt())
                        .substring(2) + "-";
        fdsAtStart = OpenFds.snapshot();
    }

    @AfterEach
    void tearDown() throws Exception {
        if (serve != null) {
            serve.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        for (String name : taps()) {
            new ProcessBuilder("ip", "link", "delete", name).start().waitFor();
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** Interfaces named with this test's prefix. */
    private List<String> taps() throws IOException {
        try (Stream<Path> links = Files.list(Path.of("/sys/class/net"))) {
            return links.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith(prefix))
                    .toList();
        }
    }

    private Process startServe(String... extra) throws Exception {
        List<String> command = new ArrayList<>(java());
        command.addAll(List.of(
                "serve",
                "--socket",
                socket.toString(),
                "--allow-uid",
                "0",
                "--tap-prefix",
                "0=" + prefix,
                "--state-dir",
                dir.resolve("state").toString()));
        command.addAll(List.of(extra));
        return start(command, "serving " + socket);
    }

    /** This JVM's java running {@code vhostnet}, with the info log. */
    private static List<String> java() {
        return List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName());
    }

    /** Starts {@code command}, its output in serve.log, and waits until that says {@code started}. */
    private Process start(List<String> command, String started) throws Exception {
        Files.deleteIfExists(dir.resolve("serve.log"));
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("serve.log").toFile())
                .start();
        assertTrue(
                eventually(Duration.ofSeconds(30), () -> log().contains(started) || !p.isAlive()),
                "serve did not start");
        assertTrue(p.isAlive(), this::log);
        return p;
    }

    private String log() {
        try {
            return Files.readString(dir.resolve("serve.log"));
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static boolean eventually(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (System.nanoTime() < end) {
            if (condition.getAsBoolean()) {
                return true;
            }
            Thread.sleep(50);
        }
        return condition.getAsBoolean();
    }

    /** Asks for a tap, giving up after 15 s (a broker that stopped accepting leaves the client waiting). */
    private BrokeredTap openTap(String suffix) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
                    try {
                        return BrokerClient.openTap(
                                socket,
                                BrokerRequest.builder().name(prefix + suffix).build());
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                })
                .get(15, TimeUnit.SECONDS);
    }

    private void stopServe() throws Exception {
        serve.destroy();
        assertTrue(serve.waitFor(20, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
        assertEquals(List.of(), taps(), "an interface was left behind");
        assertTrue(
                eventually(
                        Duration.ofSeconds(5),
                        () -> OpenFds.leakedSince(fdsAtStart).isEmpty()),
                () -> "leaked: " + OpenFds.leakedSince(fdsAtStart));
    }

    @Test
    void startedBySocketActivationWithAConfigFileItServesOnSystemdsSocketAndLeavesIt() throws Exception {
        Path activate = Path.of("/usr/bin/systemd-socket-activate");
        assumeTrue(Files.isExecutable(activate), "needs systemd's systemd-socket-activate (Debian: systemd)");
        Path config = Files.writeString(
                dir.resolve("serve.conf"),
                String.join(
                        "\n",
                        "# what a unit's ExecStart=vhostnet serve --config FILE reads",
                        "allow-uid = 0",
                        "tap-prefix = 0=" + prefix,
                        "state-dir = " + dir.resolve("state"),
                        "max-clients = 8",
                        "status-socket = " + dir.resolve("broker.status"),
                        ""));
        // systemd-socket-activate listens on the socket (as a .socket unit would), and on the first
        // connection runs the command with it as fd 3, LISTEN_FDS=1, LISTEN_PID its own pid.
        List<String> command = new ArrayList<>(List.of(activate.toString(), "-l", socket.toString()));
        command.addAll(java());
        command.addAll(List.of("serve", "--config", config.toString()));
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("serve.log").toFile())
                .start();
        serve = p;
        assertTrue(eventually(Duration.ofSeconds(10), () -> Files.exists(socket)), "systemd-socket-activate listens");
        try (BrokeredTap tap = openTap("a")) {
            assertEquals(prefix + "a", tap.name(), "the broker on the passed socket serves, by the config's policy");
        }
        assertTrue(log().contains("serving " + socket + " (inherited: socket activation)"), this::log);
        assertTrue(
                eventually(Duration.ofSeconds(10), () -> Files.exists(dir.resolve("broker.status"))),
                "the status socket of the config file: " + log());
        // The broker counts a grant once its reply is sent, so the client can hold its tap a moment
        // before the count shows it.
        com.fasterxml.jackson.databind.JsonNode[] answer = new com.fasterxml.jackson.databind.JsonNode[1];
        eventually(Duration.ofSeconds(10), () -> {
            try {
                answer[0] = dev.vhostnet.bench.Json.parse(StatusCommand.ask(dir.resolve("broker.status"), 10_000));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            return answer[0].get("granted").asLong() == 1;
        });
        com.fasterxml.jackson.databind.JsonNode status = answer[0];
        assertEquals(1, status.get("granted").asLong(), "the config's status-socket answers: " + status);
        assertEquals(socket.toString(), status.get("socket").asText());
        serve.destroy();
        assertTrue(serve.waitFor(20, TimeUnit.SECONDS), "serve did not stop on SIGTERM");
        assertTrue(Files.exists(socket), "the socket file is systemd's: it stays");
        assertFalse(Files.exists(dir.resolve("broker.status")), "the status socket is the broker's: it goes");
    }

    @Test
    void aConfigFileWithAnUnknownSettingIsAUsageErrorNamingTheLine() throws Exception {
        Path config = Files.writeString(dir.resolve("serve.conf"), "socket = " + socket + "\nallow-uids = 0\n");
        List<String> command = new ArrayList<>(java());
        command.addAll(List.of("serve", "--config", config.toString()));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), out);
        assertTrue(
                out.contains(
                        config + ":2: no setting 'allow-uids': the settings are the long options of 'vhostnet serve'"),
                out);
        assertFalse(Files.exists(socket), "nothing listens after a usage error");
    }

    @Test
    void aTapMadePersistentByItsClientIsDeletedWhenTheKilledBrokerRestarts() throws Exception {
        serve = startServe();
        String name;
        try (BrokeredTap tap = openTap("k")) {
            name = tap.name();
            tap.queueFd(0).ioctl(TunUapi.TUNSETPERSIST, 1);
            tap.queueFd(0).ioctl(TunUapi.TUNSETOWNER, 65534);
            serve.destroyForcibly();
            assertTrue(serve.waitFor(10, TimeUnit.SECONDS));
        }
        assertTrue(
                Files.exists(Path.of("/sys/class/net", name)),
                "the client's persistent tap should outlive the killed broker");

        serve = startServe();
        assertFalse(Files.exists(Path.of("/sys/class/net", name)), "the leftover tap survived the restart:\n" + log());
        try (BrokeredTap again = openTap("n")) {
            assertEquals(prefix + "n", again.name());
        }
        stopServe();
    }

    @Test
    void keepsAcceptingAfterRunningOutOfDescriptors() throws Exception {
        serve = startServe("--read-timeout-ms", "4000", "--max-clients", "500", "--max-clients-per-uid", "500");
        openTap("w").close();
        long pid = serve.pid();
        int open;
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            open = (int) fds.count();
        }
        assertEquals(
                0,
                new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=" + (open + 6) + ":")
                        .inheritIO()
                        .start()
                        .waitFor());
        List<AFUNIXSocket> flood = new ArrayList<>();
        try {
            for (int i = 0; i < 40; i++) {
                flood.add(AFUNIXSocket.connectTo(AFUNIXSocketAddress.of(socket)));
            }
            Thread.sleep(1000);
            long before = cpuTicks(pid);
            Thread.sleep(1000);
            long used = cpuTicks(pid) - before;
            assertTrue(used < 50, "serve used " + used + " ticks of CPU in one second while out of descriptors");
            assertTrue(log().contains("Too many open files"), log());
        } finally {
            for (AFUNIXSocket s : flood) {
                s.close();
            }
        }
        assertEquals(
                0,
                new ProcessBuilder("prlimit", "--pid", Long.toString(pid), "--nofile=4096:")
                        .inheritIO()
                        .start()
                        .waitFor());
        try (BrokeredTap after = openTap("after")) {
            assertEquals(prefix + "after", after.name());
        }
        long lines = log().lines().filter(l -> l.contains("accept on")).count();
        assertTrue(lines <= 25, lines + " accept failure lines");
        stopServe();
    }

    /** utime + stime of a process, in clock ticks. */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    @Test
    void exitsNonZeroWhenItsSocketFileIsRemoved() throws Exception {
        serve = startServe();
        Files.delete(socket);
        assertTrue(serve.waitFor(15, TimeUnit.SECONDS), "serve still runs without its socket file");
        assertEquals(1, serve.exitValue(), log());
        assertTrue(log().contains("removed, moved or replaced"), log());
        assertEquals(List.of(), taps());
    }
}
