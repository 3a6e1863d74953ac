package dev.vhostnet.tools;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vhostnet.bench.VhostUserPeers;
import dev.vhostnet.bench.VirtioUserKernel;
import dev.vhostnet.ctl.kernel.VhostNet;
import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import dev.vhostnet.tap.TapInfo;
import dev.vhostnet.tap.Tun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** Each command run as a process ({@code java -cp <test classpath> dev.vhostnet.tools.Main ...}): output, exit code, real state. */
class CommandLineTest {
    record Run(int exit, String out, String err) {}

    static Run withInput(String stdin, String... args) throws Exception {
        return run(List.of(), stdin, args);
    }

    /** Runs {@code prefix} (such as {@code taskset -c 0}) with the vhostnet command line after it. */
    static Run run(List<String> prefix, String stdin, String... args) throws Exception {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName()));
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).start();
        p.getOutputStream().write(stdin.getBytes(UTF_8));
        p.getOutputStream().close();
        byte[][] streams = new byte[2][];
        Thread err = new Thread(() -> {
            try {
                streams[1] = p.getErrorStream().readAllBytes();
            } catch (java.io.IOException e) {
                streams[1] = e.toString().getBytes(UTF_8);
            }
        });
        err.start();
        streams[0] = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vhostnet " + String.join(" ", args) + " finished within 60 s");
        err.join();
        return new Run(p.exitValue(), new String(streams[0], UTF_8), new String(streams[1], UTF_8));
    }

    static Run vhostnet(String... args) throws Exception {
        return withInput("", args);
    }

    static void assumeRoot() {
        assumeTrue(
                Tun.isAvailable(),
                () -> "needs /dev/net/tun: " + Tun.unavailabilityCause().getMessage());
        assumeTrue(
                new com.sun.security.auth.module.UnixSystem().getUid() == 0,
                "needs root to create taps and namespaces");
        assumeTrue(
                Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip")),
                "needs iproute2's ip");
    }

    @Test
    void probePrintsEachPieceAndTheBackendAsATableAndAsJson() throws Exception {
        Run table = vhostnet("probe");
        assertEquals(0, table.exit(), table.err());
        for (String row : List.of("vhost-net ", "max_mem_regions", "tun ", "kvm ", "huge pages ", "backend ")) {
            assertTrue(table.out().contains(row), "row " + row + " in\n" + table.out());
        }
        Run run = vhostnet("probe", "--json");
        assertEquals(0, run.exit(), run.err());
        JsonNode json = JsonOutputTest.parse(run.out());
        assertTrue(json.get("vhostNet").get("status").isTextual(), run.out());
        assertTrue(json.get("vhostNet").get("maxMemRegions").isInt(), run.out());
        assertTrue(json.get("tun").get("features").asText().startsWith("0x"), run.out());
        for (String key : List.of("kvm", "hugePages")) {
            assertTrue(json.get(key).isObject(), key + " in " + run.out());
        }
        if (!Files.exists(VhostNet.DEVICE)) {
            assertTrue(table.out().contains("backend      emulated"), table.out());
            assertEquals("EMULATED", json.get("backend").get("kind").asText(), run.out());
        }
    }

    @Test
    void badUsageExitsWith2AndSaysWhatIsWrong() throws Exception {
        assertEquals(2, vhostnet().exit());
        Run unknown = vhostnet("frobnicate");
        assertEquals(2, unknown.exit());
        assertTrue(unknown.err().contains("Unmatched argument"), unknown.err());
        assertEquals(2, vhostnet("tap", "create", "--queues", "x").exit());
        Run queues = vhostnet("tap", "create", "--queues", "0", "vt0");
        assertEquals(2, queues.exit());
        assertEquals(
                "vhostnet tap create: queues must be 1 to 256 (the kernel's MAX_TAP_QUEUES), not 0",
                queues.err().strip());
        assertEquals(2, vhostnet("exec", "--tap", "t0").exit(), "exec without a command");
        assertEquals(0, vhostnet("--help").exit());
    }

    @Test
    void vmNeedsABootable64BitKernelAndSaysWhyAFileIsNotOne() throws Exception {
        assertEquals(2, vhostnet("vm").exit(), "--kernel is required");
        Path notAKernel = Files.createTempFile("vhostnet-not-a-kernel", "");
        try {
            Files.write(notAKernel, new byte[4096]);
            Run run = vhostnet("vm", "--kernel", notAKernel.toString());
            assertEquals(2, run.exit(), run.err());
            assertTrue(run.err().contains("boot flag"), run.err());
        } finally {
            Files.delete(notAKernel);
        }
    }

    @Test
    void benchWithTheVhostUserPeersSaysWhatTheHostLacksAndExits3BeforeMeasuringAnything() throws Exception {
        String missing = VhostUserPeers.unavailabilityCause();
        // Where this host has all the peers need, one CPU is what the command lacks: taskset gives it one.
        Run r = missing == null
                ? run(List.of("taskset", "-c", "0"), "", "bench", "--vhost-user-peers", "--quick")
                : vhostnet("bench", "--vhost-user-peers", "--quick");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains(missing == null ? "the vhost-user peers need 2 CPUs" : missing), r.err());
        assertFalse(r.out().contains("packets/s"), "nothing measured: " + r.out());
    }

    @Test
    void benchWithTheVirtioUserPeerSaysWhatTheHostLacksAndExits3BeforeMeasuringAnything() throws Exception {
        String missing = VirtioUserKernel.unavailabilityCause();
        assumeTrue(
                missing != null,
                "this host has dpdk-testpmd and /dev/vhost-net: VirtioUserPeerTest runs the peer here");
        Run r = vhostnet("bench", "--virtio-user-peer", "--quick");
        assertEquals(3, r.exit(), r.err());
        assertTrue(r.err().contains(missing), r.err());
        assertFalse(r.out().contains("packets/s"), "nothing measured: " + r.out());
    }

    @Test
    void benchExitsWith1OnARegressionBeyondTheGivenThresholdAgainstABaseline(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        Run alone = vhostnet("bench", "--fail-on-regression", "5");
        assertEquals(2, alone.exit());
        assertTrue(alone.err().contains("--fail-on-regression needs --baseline"), alone.err());
        assumeRoot();
        // A baseline no run can match: 10^12 packets/s at 1 ns of CPU each, steady over two repetitions.
        String rep = "{\"packets\": 1000000000000, \"bytes\": 64000000000000, \"sent\": 1000000000000, "
                + "\"nanos\": 1000000000, \"totalCpuNanos\": 1000000000000}";
        Path old = dir.resolve("old.json");
        Files.writeString(
                old,
                "{\"machine\": \"m\", \"started\": \"2026-12-01T00:00:00Z\", \"config\": \"c\", \"cells\": ["
                        + "{\"path\": \"EMULATED\", \"direction\": \"TX\", \"frameBytes\": 64, \"pairs\": 1, \"reps\": ["
                        + rep + ", " + rep + "]}], \"notes\": []}");
        String[] run = {
            "bench",
            "--backend",
            "EMULATED",
            "--direction",
            "TX",
            "--size",
            "64",
            "--pairs",
            "1",
            "--reps",
            "2",
            "--packets",
            "2000",
            "--warmup",
            "0.1",
            "--no-c",
            "--no-java-ceiling",
            "--out",
            dir.resolve("out").toString(),
            "--baseline",
            old.toString()
        };
        Run report = vhostnet(run);
        assertEquals(0, report.exit(), "off by default: " + report.err());
        assertTrue(report.out().contains("| emulated | TX | 64 | 1 | 1,000,000,000,000 |"), report.out());
        List<String> failing = new ArrayList<>(List.of(run));
        failing.addAll(List.of("--fail-on-regression", "50"));
        Run regression = vhostnet(failing.toArray(String[]::new));
        assertEquals(1, regression.exit(), regression.out() + regression.err());
        assertTrue(
                regression.err().contains("regression: emulated TX 64 B, 1 pair(s): packets/s -100.0%"),
                regression.err());
    }

    @Test
    void aMissingDeviceTapOrBridgeExitsWith3WithTheFix() throws Exception {
        Run show = vhostnet("tap", "show", "vt-none");
        assertEquals(3, show.exit());
        assertTrue(show.err().contains("no tap named vt-none"), show.err());
        assertEquals(1, show.err().strip().lines().count(), "one line: " + show.err());
        Run bridge = vhostnet("tap", "create", "vt-nobr", "--bridge", "vt-nobr0");
        assertEquals(3, bridge.exit());
        assertTrue(bridge.err().contains("ip link add vt-nobr0 type bridge"), bridge.err());
        assumeTrue(!Files.exists(VhostNet.DEVICE), "this host has /dev/vhost-net");
        assumeRoot();
        Run vhost = vhostnet("exec", "--vhost", "--", "true");
        assertEquals(3, vhost.exit(), vhost.err());
        assertTrue(vhost.err().contains("open(/dev/vhost-net): ENOENT"), vhost.err());
    }

    @Test
    void tapCreateLeavesAPersistentTapThatIpListAndShowAgreeOnUntilDelete() throws Exception {
        assumeRoot();
        String name = Names.random("vc");
        String bridge = Names.random("vb");
        Command.run("ip", "link", "add", bridge, "type", "bridge");
        try {
            Run create = vhostnet(
                    "tap",
                    "create",
                    name,
                    "--queues",
                    "2",
                    "--offload",
                    "CSUM,TSO4",
                    "--mtu",
                    "9000",
                    "--mac",
                    "02:00:00:00:10:01",
                    "--owner",
                    "1000",
                    "--group",
                    "100",
                    "--bridge",
                    bridge);
            assertEquals(0, create.exit(), create.err());
            assertTrue(create.out().startsWith(name + ": tap persist vnet_hdr multi_queue"), create.out());
            TapInfo info = TapInfo.read(name).orElseThrow();
            assertTrue(info.persistent() && info.vnetHeader() && info.multiQueue(), info.toString());
            assertEquals(OptionalInt.of(1000), info.owner());
            assertEquals(OptionalInt.of(100), info.group());
            assertEquals(9000, info.mtu());
            assertEquals(bridge, info.master().orElseThrow());
            String ip = Command.run("ip", "-d", "link", "show", "dev", name);
            for (String s : List.of(
                    "mtu 9000", "master " + bridge, "02:00:00:00:10:01", "vnet_hdr on", "multi_queue", "persist on")) {
                assertTrue(ip.contains(s), s + " in " + ip);
            }
            Run list = vhostnet("tap", "list");
            assertEquals(0, list.exit(), list.err());
            assertTrue(
                    list.out()
                            .lines()
                            .anyMatch(l -> l.startsWith(name + " ")
                                    && l.contains("tap persist vnet_hdr multi_queue")
                                    && l.contains("9000")
                                    && l.contains(bridge)),
                    list.out());
            JsonNode show =
                    JsonOutputTest.parse(vhostnet("tap", "show", name, "--json").out());
            assertEquals(name, show.get("name").asText(), show.toString());
            assertEquals(1000, show.get("owner").asInt(), show.toString());
            assertEquals(bridge, show.get("master").asText(), show.toString());
            JsonNode listed =
                    JsonOutputTest.parse(vhostnet("tap", "list", "--json").out());
            assertTrue(listed.isArray(), listed.toString());
            assertTrue(
                    java.util.stream.StreamSupport.stream(listed.spliterator(), false)
                            .anyMatch(t -> t.get("name").asText().equals(name)
                                    && t.get("mtu").asInt() == 9000),
                    listed.toString());
            Run delete = vhostnet("tap", "delete", name);
            assertEquals(0, delete.exit(), delete.err());
            assertFalse(Command.hostHasLink(name), "ip link no longer shows " + name);
            assertFalse(vhostnet("tap", "list").out().contains(name));
        } finally {
            if (Command.hostHasLink(name)) {
                Command.run("ip", "link", "del", name);
            }
            Command.run("ip", "link", "del", bridge);
        }
    }

    @Test
    void execGivesTheCommandExactlyStdioAndTheTapFdsAndExitsWithItsStatus() throws Exception {
        assumeRoot();
        String name = Names.random("ve");
        Run run = vhostnet(
                "exec",
                "--tap",
                name,
                "--queues",
                "2",
                "--",
                "sh",
                "-c",
                "ls /proc/$$/fd; echo tapfd={tapfd}; ls /sys/class/net/" + name + "/tun_flags; exit 7");
        assertEquals(7, run.exit(), run.err());
        Matcher m = Pattern.compile("tapfd=(\\d+):(\\d+)").matcher(run.out());
        assertTrue(m.find(), run.out());
        List<String> fds =
                run.out().lines().takeWhile(l -> l.matches("\\d+")).sorted().toList();
        assertEquals(Stream.of("0", "1", "2", m.group(1), m.group(2)).sorted().toList(), fds, run.out());
        assertTrue(run.out().contains("tun_flags"), "the tap exists while the command runs");
        assertFalse(Command.hostHasLink(name), "and goes with the command's fds");
    }

    @Test
    void execConfiguresTheTapAsTapCreateDoesAndMakesItAPortOfTheBridge() throws Exception {
        assumeRoot();
        String name = Names.random("ve");
        String bridge = Names.random("vb");
        Command.run("ip", "link", "add", bridge, "type", "bridge");
        try {
            Run run = vhostnet(
                    "exec",
                    "--tap",
                    name,
                    "--offload",
                    "CSUM,TSO4",
                    "--mtu",
                    "1400",
                    "--mac",
                    "02:00:00:00:10:02",
                    "--bridge",
                    bridge,
                    "--",
                    "ip",
                    "-d",
                    "link",
                    "show",
                    "dev",
                    name);
            assertEquals(0, run.exit(), run.err());
            for (String s : List.of("mtu 1400", "master " + bridge, "02:00:00:00:10:02", "vnet_hdr on", "UP")) {
                assertTrue(run.out().contains(s), s + " in what the command saw: " + run.out());
            }
            assertFalse(Command.hostHasLink(name), "the tap goes with the command's fds");
            Run noBridge = vhostnet("exec", "--tap", name, "--bridge", "nosuchbr0", "--", "true");
            assertEquals(3, noBridge.exit(), noBridge.err());
            assertTrue(noBridge.err().contains("no bridge named nosuchbr0: create it with"), noBridge.err());
            assertFalse(Command.hostHasLink(name), "nothing made for a bridge that is not there");
        } finally {
            Command.run("ip", "link", "del", bridge);
        }
    }

    @Test
    void qemuRunsOnTheTapFdThatExecPasses() throws Exception {
        String name = Names.random("vq");
        Run run = qemuInfoNetwork(name, "1", "tap,id=n0,fd={tapfd}", "virtio-net-pci,netdev=n0,id=nic0");
        Matcher m = Pattern.compile("n0: index=0,type=tap,fd=(\\d+)").matcher(run.out());
        assertTrue(m.find(), "info network shows the tap backend on the passed fd:\n" + run.out());
        assertTrue(run.out().contains("nic0: index=0,type=nic,model=virtio-net-pci"), run.out());
        assertFalse(Command.hostHasLink(name));
    }

    @Test
    void qemuRunsOnEveryQueueThatExecPasses() throws Exception {
        String name = Names.random("vq");
        Run run = qemuInfoNetwork(name, "2", "tap,id=n0,fds={tapfd}", "virtio-net-pci,netdev=n0,mq=on,id=nic0");
        assertEquals(
                2,
                Pattern.compile("n0: index=\\d+,type=tap,fd=\\d+")
                        .matcher(run.out())
                        .results()
                        .count(),
                "info network shows a tap backend on each passed fd:\n" + run.out());
        assertFalse(Command.hostHasLink(name));
    }

    /** {@code vhostnet exec} of a stopped QEMU with {@code -netdev netdev -device device} on tap {@code name}: its {@code info network}. */
    private static Run qemuInfoNetwork(String name, String queues, String netdev, String device) throws Exception {
        assumeRoot();
        assumeTrue(
                Stream.of("/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64")
                        .anyMatch(p -> Files.isExecutable(Path.of(p))),
                "needs qemu-system-x86_64 (Debian: qemu-system-x86)");
        String qmp = """
                {"execute":"qmp_capabilities"}
                {"execute":"human-monitor-command","arguments":{"command-line":"info network"}}
                {"execute":"quit"}
                """;
        Run run = withInput(
                qmp,
                "exec",
                "--tap",
                name,
                "--queues",
                queues,
                "--",
                "qemu-system-x86_64",
                "-M",
                "pc",
                "-S",
                "-accel",
                "tcg",
                "-nodefaults",
                "-display",
                "none",
                "-netdev",
                netdev,
                "-device",
                device,
                "-qmp",
                "stdio");
        assertEquals(0, run.exit(), run.err());
        return run;
    }

    @Test
    void vhostUserServesAFrontendOnTheSocketUntilSignalledThenRemovesSocketAndTap(
            @org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assumeRoot();
        String name = Names.random("vu");
        Path socket = dir.resolve("vm.sock");
        Process p = startVhostUser(
                "--socket", socket.toString(), "--tap", name, "--queues", "2", "--socket-group", "65534");
        try {
            List<String> lines = firstLines(p);
            assertEquals(
                    "vhostnet vhost-user: serving " + socket + " on tap " + name + ", 2 queue pairs",
                    lines.get(0),
                    String.join("\n", lines));
            assertTrue(
                    lines.get(1).matches("features +.*MRG_RXBUF.*VERSION_1, and PROTOCOL_FEATURES \\(MQ REPLY_ACK\\)"),
                    lines.get(1));
            assertTrue(
                    lines.get(2).contains("-netdev vhost-user,id=net0,chardev=vu0,queues=2")
                            && lines.get(2).contains("mq=on"),
                    lines.get(2));
            assertTrue(Command.hostHasLink(name), "the tap exists while it serves");
            assertTrue(TapInfo.read(name).orElseThrow().multiQueue(), "a multiqueue tap");
            assertEquals(
                    "rw-rw----",
                    java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)),
                    "the socket's default mode: its group may connect");
            assertEquals(
                    65534,
                    (int) Files.getAttribute(socket, "unix:gid"),
                    "the socket's group: --socket-group, for a QEMU run as another user");
            try (dev.vhostnet.vhostuser.VhostUserFrontend frontend =
                    dev.vhostnet.vhostuser.VhostUserFrontend.connect(socket)) {
                assertNegotiates(frontend, 2);
            }
        } finally {
            stop(p);
        }
        assertFalse(Files.exists(socket), "socket removed");
        assertFalse(Command.hostHasLink(name), "tap gone with the process");
    }

    @Test
    void vhostUserInClientModeDialsTheFrontendUntilItListens(@org.junit.jupiter.api.io.TempDir Path dir)
            throws Exception {
        assumeRoot();
        String name = Names.random("vu");
        Path socket = dir.resolve("qemu.sock");
        Path status = dir.resolve("backend.status");
        Process p = startVhostUser(
                "--socket", socket.toString(), "--tap", name, "--client", "--status-socket", status.toString());
        try {
            List<String> lines = firstLines(p);
            assertEquals(
                    "vhostnet vhost-user: dialling " + socket + " on tap " + name + ", 1 queue pair",
                    lines.get(0),
                    String.join("\n", lines));
            assertTrue(lines.get(2).contains("-chardev socket,id=vu0,path=" + socket + ",server=on"), lines.get(2));
            assertFalse(Files.exists(socket), "the socket is QEMU's to make");
            assertFalse(Files.exists(StatusSocket.beside(socket)), "nothing made beside QEMU's socket");
            assertEquals(
                    0, frontends(status).get("connections").asInt(), "the status socket answers while nothing listens");
            try (dev.vhostnet.vhostuser.VhostUserListener listener =
                            dev.vhostnet.vhostuser.VhostUserListener.bind(socket);
                    dev.vhostnet.vhostuser.VhostUserFrontend frontend =
                            listener.accept(java.time.Duration.ofSeconds(20))) {
                assertNegotiates(frontend, 1);
                assertEquals(
                        1,
                        frontends(status).get("connections").asInt(),
                        "the back-end's status counts the front-end it dialled");
            }
        } finally {
            stop(p);
        }
        assertFalse(Files.exists(status), "the status socket goes with the process");
        assertFalse(Command.hostHasLink(name), "tap gone with the process");
    }

    /** What a vhost-user back-end's status socket says of its front-ends. */
    private static com.fasterxml.jackson.databind.JsonNode frontends(Path status) throws Exception {
        return dev.vhostnet.bench.Json.parse(StatusCommand.ask(status, 10_000)).get("frontends");
    }

    @Test
    void vhostUserInClientModeNeedsAStatusSocket(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Run run = vhostnet("vhost-user", "--socket", dir.resolve("qemu.sock").toString(), "--tap", "x0", "--client");
        assertEquals(2, run.exit(), run.err());
        assertTrue(run.err().contains("with --client give --status-socket PATH"), run.err());
        assertEquals(List.of(), List.of(dir.toFile().list()), "no file made");
    }

    /** The front-end negotiated protocol features with the back-end, which offers {@code queues} pairs ({@code GET_QUEUE_NUM}). */
    private static void assertNegotiates(dev.vhostnet.vhostuser.VhostUserFrontend frontend, int queues)
            throws Exception {
        assertTrue(frontend.protocolFeaturesNegotiated(), "a front-end negotiates protocol features with it");
        assertEquals(queues, frontend.queueNum(), "GET_QUEUE_NUM: --queues");
    }

    private static void stop(Process vhostUser) throws InterruptedException {
        vhostUser.destroy();
        assertTrue(vhostUser.waitFor(30, TimeUnit.SECONDS), "vhostnet vhost-user ends on SIGTERM");
    }

    private static Process startVhostUser(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "-cp",
                System.getProperty("java.class.path"),
                Main.class.getName(),
                "vhost-user"));
        command.addAll(Arrays.asList(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }

    /** The first three lines {@code vhostnet vhost-user} prints (its log lines left out). */
    private static List<String> firstLines(Process p) throws Exception {
        java.io.BufferedReader out =
                new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), UTF_8));
        List<String> lines = new ArrayList<>();
        for (String line; lines.size() < 3 && (line = out.readLine()) != null; ) {
            if (!line.contains(" INFO ")) {
                lines.add(line);
            }
        }
        return lines;
    }

    @Test
    void vhostUserLetsAQemuOfAnotherUserInItsSocketGroupConnect() throws Exception {
        assumeRoot();
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "needs util-linux's setpriv");
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")),
                "needs qemu-system-x86_64 (Debian: qemu-system-x86)");
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "vu-group-");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
        Path socket = dir.resolve("vm.sock");
        String name = Names.random("vu");
        Process p = startVhostUser("--socket", socket.toString(), "--tap", name, "--socket-group", "65534");
        try {
            firstLines(p);
            assertEquals(0, qemuConnectsAs(socket, "65534").exitValue(), "QEMU as uid 65534, in group 65534");
            Process stranger = qemuConnectsAs(socket, "1234");
            String err = new String(stranger.getInputStream().readAllBytes(), UTF_8);
            assertEquals(1, stranger.exitValue(), "QEMU as uid 65534, in group 1234 only: " + err);
            assertTrue(err.contains("Permission denied"), err);
        } finally {
            stop(p);
            Files.deleteIfExists(socket);
            Files.delete(dir);
        }
    }

    /** A QEMU run as uid 65534 and gid {@code gid} that connects its chardev to {@code socket}, then quits. */
    private static Process qemuConnectsAs(Path socket, String gid) throws Exception {
        List<String> command = new ArrayList<>(List.of("setpriv", "--reuid=65534", "--regid=" + gid, "--clear-groups"));
        command.addAll(QemuNone.command("-chardev", "socket,id=vu0,path=" + socket));
        Process qemu = new ProcessBuilder(command).redirectErrorStream(true).start();
        qemu.getOutputStream().write("{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n".getBytes(UTF_8));
        qemu.getOutputStream().close();
        assertTrue(qemu.waitFor(30, TimeUnit.SECONDS), "QEMU finished");
        return qemu;
    }

    @Test
    void vhostUserRefusesSocketOptionsInClientMode(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Run run = vhostnet(
                "vhost-user",
                "--socket",
                dir.resolve("vm.sock").toString(),
                "--tap",
                "x0",
                "--client",
                "--socket-group",
                "kvm");
        assertEquals(2, run.exit(), run.err());
        assertTrue(run.err().contains("with --client the socket is QEMU's"), run.err());
    }

    @Test
    void vhostUserRefusesAMalformedSocketModeAsUsage(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Run run = vhostnet(
                "vhost-user", "--socket", dir.resolve("vm.sock").toString(), "--tap", "x0", "--socket-mode", "rw-rw");
        assertEquals(2, run.exit(), run.err());
        assertTrue(run.err().contains("socket mode rw-rw: give it as ls -l shows it"), run.err());
        assertFalse(Files.exists(dir.resolve("vm.sock")));
    }

    @Test
    void demoReportsBothDirectionsAndLatencyAndLeavesNoNamespaceOrTap() throws Exception {
        assumeRoot();
        Run run = vhostnet("demo", "--seconds", "1", "--pings", "200");
        assertEquals(0, run.exit(), run.err() + run.out());
        String out = run.out();
        for (String row : List.of(
                "backend ", "features ", "peer ", "driver -> ns ", "ns -> driver ", "round trip ", "cleanup ")) {
            assertTrue(out.contains(row), row + " in\n" + out);
        }
        if (!Files.exists(VhostNet.DEVICE)) {
            assertTrue(out.contains("backend       emulated: no /dev/vhost-net"), out);
        }
        assertTrue(out.contains("VERSION_1") && out.contains("MRG_RXBUF"), out);
        Matcher flow = Pattern.compile("(driver -> ns|ns -> driver) +(\\d+) sent, (\\d+) received")
                .matcher(out);
        for (int i = 0; i < 2; i++) {
            assertTrue(flow.find(), out);
            assertTrue(
                    Long.parseLong(flow.group(3)) > 256,
                    flow.group(1) + " carried more than a ring's worth " + "(RX resumes after the ring filled): "
                            + out);
        }
        Matcher rtt = Pattern.compile("(\\d+) UDP ping-pongs \\((\\d+) lost\\): p50 ([\\d.]+) us, p99 ([\\d.]+) us")
                .matcher(out);
        assertTrue(rtt.find(), out);
        assertTrue(Integer.parseInt(rtt.group(1)) > 0);
        assertTrue(Double.parseDouble(rtt.group(3)) <= Double.parseDouble(rtt.group(4)));
        Matcher peer = Pattern.compile("tap (\\S+) in namespace (\\S+) ").matcher(out);
        assertTrue(peer.find(), out);
        assertFalse(Command.run("ip", "netns", "list").contains(peer.group(2)), "namespace removed");
        assertFalse(Command.hostHasLink(peer.group(1)), "tap removed");
    }

    @Test
    void demoJsonParses() throws Exception {
        assumeRoot();
        Run run = vhostnet("demo", "--seconds", "0.3", "--pings", "20", "--json");
        assertEquals(0, run.exit(), run.err() + run.out());
        JsonNode json = JsonOutputTest.parse(run.out());
        assertTrue(json.get("toNamespace").get("received").asLong() > 0, run.out());
        JsonNode p50 = json.get("latency").get("p50Micros");
        assertTrue(
                p50.isNumber()
                        || p50.isNull() && json.get("latency").get("roundTrips").asInt() == 0,
                run.out());
        assertTrue(json.get("cleanedUp").asBoolean(), run.out());
    }

    @Test
    void versionComesFromTheManifestAndTheLogLevelIsChecked() throws Exception {
        Run version = vhostnet("--version");
        assertEquals(0, version.exit(), version.err());
        // Run from classes here, so no manifest: the jar's case is run by ./vhostnet --version.
        assertTrue(version.out().startsWith("vhostnet "), version.out());
        Run bad = vhostnet("--log-level", "loud", "probe");
        assertEquals(2, bad.exit(), bad.out());
        assertTrue(bad.err().contains("loud is not one of error, warn, info, debug, trace"), bad.err());
    }

    @Test
    void eachCommandBuildsAloneAsInTheWholeTree() {
        java.io.PrintWriter sink = new java.io.PrintWriter(java.io.Writer.nullWriter());
        picocli.CommandLine tree = new picocli.CommandLine(new Main.Tree());
        assertEquals(
                10, tree.getSubcommands().size(), tree.getSubcommands().keySet().toString());
        for (String name : tree.getSubcommands().keySet()) {
            picocli.CommandLine alone = Main.commandLine(new String[] {"-v", name, "--help"}, sink, sink);
            assertEquals(List.of(name), List.copyOf(alone.getSubcommands().keySet()));
            assertEquals(
                    tree.getSubcommands().get(name).getCommandSpec().options().size(),
                    alone.getSubcommands().get(name).getCommandSpec().options().size(),
                    name);
        }
        assertEquals(
                10,
                Main.commandLine(new String[] {"--help"}, sink, sink)
                        .getSubcommands()
                        .size());
        assertEquals(
                0,
                Main.commandLine(new String[] {"--version"}, sink, sink)
                        .getSubcommands()
                        .size());
    }
}
