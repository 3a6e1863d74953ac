package dev.vhostnet.broker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.Capabilities;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.tap.NetInterface;
import dev.vhostnet.testkit.EthernetFrames;
import dev.vhostnet.testkit.NetNamespace;
import dev.vhostnet.testkit.TapInNamespace;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.DatagramSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The broker in this (root) process, its client a child JVM running as uid/gid 65534 with no
 * supplementary groups ({@code setpriv}). The test classpath is copied to a world-readable
 * directory first, since the Maven repository under /root is not readable by that uid.
 */
class UnprivilegedClientTest {
    private static final int NOBODY = 65534;

    private Path dir;
    private Broker broker;
    private Process child;
    private String prefix;

    @BeforeEach
    void start() throws Exception {
        BrokerFixture.assumeTaps();
        assumeTrue(
                Capabilities.has(Capabilities.CAP_SYS_ADMIN) && Files.isExecutable(Path.of("/usr/sbin/ip")),
                "needs root (CAP_SYS_ADMIN) and iproute2's ip to make network namespaces: run the tests as root");
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/setpriv")),
                "needs util-linux's setpriv to run the client as uid 65534 (apt-get install util-linux)");
        dir = BrokerFixture.socketDirectory();
        prefix = "vn" + BrokerFixture.random() + "-";
        broker = startBroker(BrokerPolicy.builder()
                .allowUid(NOBODY)
                .tapPrefix(NOBODY, prefix)
                .build());
    }

    /** A broker whose socket (0660) is in the client's group, as libvirt's {@code unix_sock_group}. */
    private Broker startBroker(BrokerPolicy policy) throws IOException {
        return Broker.builder(dir.resolve("broker.sock"), policy)
                .socketGroup(Integer.toString(NOBODY))
                .stateDirectory(dir.resolve("state"))
                .start();
    }

    @AfterEach
    void stop() throws Exception {
        if (child != null) {
            child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        if (broker != null) {
            broker.close();
        }
        BrokerFixture.deleteTree(dir);
    }

    /** The test classpath, copied where uid 65534 can read it. */
    private String readableClasspath() throws IOException {
        Path cp = Files.createDirectory(dir.resolve("cp"));
        List<String> entries = new ArrayList<>();
        int i = 0;
        for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
            Path from = Path.of(entry);
            if (!Files.exists(from)) {
                continue;
            }
            Path to = cp.resolve((i++) + "-" + from.getFileName());
            if (Files.isDirectory(from)) {
                try (Stream<Path> files = Files.walk(from)) {
                    for (Path f : files.toList()) {
                        Files.copy(f, to.resolve(from.relativize(f).toString()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            } else {
                Files.copy(from, to);
            }
            entries.add(to.toString());
        }
        try (Stream<Path> all = Files.walk(cp)) {
            for (Path p : all.toList()) {
                Files.setPosixFilePermissions(
                        p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x" : "rw-r--r--"));
            }
        }
        return String.join(File.pathSeparator, entries);
    }

    private Process startClient(String name) throws IOException {
        String classpath = readableClasspath();
        Path tmp = Files.createDirectory(dir.resolve("tmp"));
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxrwxrwx"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(
                "/usr/bin/setpriv",
                "--reuid=" + NOBODY,
                "--regid=" + NOBODY,
                "--clear-groups",
                java,
                "--enable-native-access=ALL-UNNAMED",
                "-Djava.io.tmpdir=" + tmp,
                "-Djna.tmpdir=" + tmp,
                "-Xshare:off",
                "-cp",
                classpath,
                UnprivilegedClient.class.getName(),
                broker.socketPath().toString(),
                name);
        pb.environment().put("HOME", tmp.toString());
        pb.redirectError(dir.resolve("child-stderr.txt").toFile());
        return pb.start();
    }

    private String childStderr() throws IOException {
        Path f = dir.resolve("child-stderr.txt");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    @Test
    void aClientRunningAsNobodyGetsATapWhoseFdCarriesItsFrames() throws Exception {
        String name = prefix + "0";
        child = startClient(name);
        BufferedReader out =
                new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII));
        PrintWriter in = new PrintWriter(child.getOutputStream(), true, StandardCharsets.US_ASCII);
        String hello = out.readLine();
        assertEquals("TAP " + name + " UID " + NOBODY, hello, () -> "child said: " + hello + "\n" + stderrOrEmpty());
        assertEquals(java.util.Set.of(name), broker.leasedTaps());

        try (NetNamespace ns = NetNamespace.create()) {
            ns.moveIn(name);
            ns.ip("addr", "add", TapInNamespace.HOST_IP + "/24", "dev", name);
            ns.ip("link", "set", "dev", name, "up");
            MacAddress tapMac = ns.call(() -> {
                try (NetInterface link = NetInterface.open(name)) {
                    return link.mac();
                }
            });
            try (DatagramSocket socket = ns.call(() -> {
                DatagramSocket s = new DatagramSocket(new java.net.InetSocketAddress(TapInNamespace.HOST_IP, 0));
                s.setSoTimeout((int) Duration.ofSeconds(5).toMillis());
                return s;
            })) {
                byte[] payload =
                        ("from uid " + NOBODY + " through a brokered tap fd").getBytes(StandardCharsets.US_ASCII);
                byte[] frame = EthernetFrames.udp(
                        TapInNamespace.GUEST_MAC,
                        tapMac,
                        TapInNamespace.GUEST_IP_BYTES,
                        TapInNamespace.HOST_IP_BYTES,
                        40000,
                        socket.getLocalPort(),
                        payload);
                in.println(HexFormat.of().formatHex(frame));
                assertEquals("WROTE " + frame.length, out.readLine());
                assertArrayEquals(payload, TapInNamespace.receive(socket));
            }
            in.println();
            assertTrue(child.waitFor(20, TimeUnit.SECONDS), "child did not exit");
            assertEquals(0, child.exitValue());
        }
        assertTrue(BrokerFixture.eventually(() -> broker.leasedTaps().isEmpty()), "lease not released");
    }

    @Test
    void anUnlistedUidIsRefusedAcrossProcesses() throws Exception {
        broker.close();
        broker = startBroker(
                BrokerPolicy.builder().allowUid(1000).tapPrefix(NOBODY, prefix).build());
        child = startClient(prefix + "1");
        String line =
                new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII)).readLine();
        assertTrue(
                line != null && line.startsWith("ERROR broker refused (DENIED): uid 65534 gid 65534 is not allowed"),
                () -> "child said: " + line + "\n" + stderrOrEmpty());
        assertTrue(child.waitFor(20, TimeUnit.SECONDS));
        assertTrue(!BrokerFixture.linkExists(prefix + "1"));
    }

    private String stderrOrEmpty() {
        try {
            return childStderr();
        } catch (IOException e) {
            return e.toString();
        }
    }
}
