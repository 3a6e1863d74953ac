package dev.vhostnet.tools;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.tap.Command;
import dev.vhostnet.tap.Names;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** {@code vhostnet bridge-helper}: its refusals in this process, and as the helper of a real QEMU's {@code -netdev bridge}. */
class BridgeHelperTest {
    @TempDir
    Path dir;

    record Result(int exit, String err) {}

    private Result helper(String... args) {
        StringWriter err = new StringWriter();
        int exit = Main.run(
                Stream.concat(Stream.of("bridge-helper"), Stream.of(args)).toArray(String[]::new),
                new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true));
        return new Result(exit, err.toString().strip());
    }

    private Path acl(String text) throws Exception {
        Path f = dir.resolve("bridge.conf");
        Files.writeString(f, text);
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r--r--"));
        return f;
    }

    @Test
    void refusesBeforeTouchingAnythingWithOneLineAndANonZeroExit() throws Exception {
        String conf = acl("allow vb-ok\ndeny vb-no\nallow vb-no\n").toString();
        Result denied = helper("--use-vnet", "--fd=1000", "--br=vb-no", "--config", conf);
        assertEquals(4, denied.exit());
        assertEquals(
                "vhostnet bridge-helper: bridge vb-no is denied by " + conf + ":2 (deny vb-no): deny wins over allow, "
                        + "remove that rule to grant it",
                denied.err());
        Result unlisted = helper("--use-vnet", "--fd=1000", "--br=vb-other", "--config", conf);
        assertEquals(4, unlisted.exit());
        assertTrue(
                unlisted.err().contains("is allowed by no rule of " + conf + ": add 'allow vb-other'"), unlisted.err());
        Result fd = helper(
                "--use-vnet", "--fd", "1000", "--br", "vb-ok", "--config", conf); // QEMU's separate-argument form
        assertEquals(2, fd.exit());
        assertTrue(
                fd.err()
                        .endsWith("--fd=1000 is not open in this process: run from QEMU's -netdev bridge,helper=..., "
                                + "which passes its socket"),
                fd.err());
        assertTrue(helper("--fd=1", "--br=vb-ok", "--config", conf).err().contains("stdin, stdout or stderr"));
        Result odd = helper("--fd=5", "--br=vb\nx", "--config", conf);
        assertEquals(2, odd.exit());
        assertEquals(
                "vhostnet bridge-helper: bridge name 'vb\\u000ax' has '\\u000a' at 2: interface names take printable "
                        + "ASCII without whitespace, '/' or ':'",
                odd.err());
        Result missing = helper(
                "--fd=5", "--br=vb-ok", "--config", dir.resolve("none.conf").toString());
        assertEquals(3, missing.exit());
        assertTrue(missing.err().contains("no ACL at"), missing.err());
        Result bad = helper("--fd=5", "--br=vb-ok", "--config", acl("allow\n").toString());
        assertEquals(2, bad.exit());
        assertTrue(bad.err().contains(":1: 'allow' is not a rule"), bad.err());
        assertNotEquals(0, helper("--br=vb-ok").exit(), "--fd is required");
    }

    @Test
    @Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void qemuStartsWithTheTapOnTheBridgeAndTheHelperLogsWhatItGranted() throws Exception {
        assumeQemu();
        String bridge = Names.random("vbr");
        String prefix = Names.random("h").substring(0, 7);
        Command.run("ip", "link", "add", bridge, "type", "bridge");
        try {
            Command.run("ip", "link", "set", bridge, "mtu", "1400", "up");
            acl("# test\ninclude missing.conf\nallow " + bridge + "\n");
            String helper = launcher() + " bridge-helper --config " + dir.resolve("bridge.conf")
                    + " --allow-uid 0 --tap-prefix 0=" + prefix
                    + " --offload CSUM,,TSO4 --offload TSO6"; // QEMU reads ,, as a comma
            Process qemu = qemu(bridge, helper);
            try (BufferedReader out = new BufferedReader(new InputStreamReader(qemu.getInputStream(), UTF_8));
                    OutputStream in = qemu.getOutputStream()) {
                in.write(("{\"execute\":\"qmp_capabilities\"}\n"
                                + "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":\"info network\"}}\n")
                        .getBytes(UTF_8));
                in.flush();
                String info = "";
                for (String line; !info.contains("n0:") && (line = out.readLine()) != null; ) {
                    info = line;
                }
                assertTrue(
                        info.contains("n0: index=0,type=tap,helper=" + helper.replace(",,", ",") + ",br=" + bridge),
                        info + "\n" + stderr(qemu));
                List<String> ports = ports(bridge);
                assertEquals(1, ports.size(), "one port on " + bridge + ": " + ports);
                String tap = ports.get(0);
                assertTrue(tap.startsWith(prefix), tap + " named with uid 0's prefix " + prefix);
                Path sys = Path.of("/sys/class/net", tap);
                assertEquals("1400", Files.readString(sys.resolve("mtu")).strip(), "the bridge's MTU");
                assertTrue(
                        Files.readString(sys.resolve("address")).startsWith("fe:"),
                        "a MAC that does not lower the bridge's");
                assertEquals(
                        1, Integer.decode(Files.readString(sys.resolve("flags")).strip()) & 1, "up");
                assertTrue(Files.exists(sys.resolve("tun_flags")), "a tap");
                in.write("{\"execute\":\"quit\"}\n".getBytes(UTF_8));
                in.flush();
            } finally {
                if (!qemu.waitFor(30, TimeUnit.SECONDS)) {
                    qemu.destroyForcibly();
                }
            }
            assertEquals(0, qemu.exitValue(), stderr(qemu));
            String log = stderr(qemu);
            assertTrue(
                    log.matches("(?s).*vhostnet bridge-helper: tap " + prefix + "\\d+ on bridge " + bridge
                            + " for uid 0 gid 0 \\(pid \\d+\\): vnet header, offloads \\[CSUM, TSO4, TSO6\\], mtu 1400; allowed by "
                            + dir.resolve("bridge.conf") + ":3 \\(allow " + bridge + "\\).*"),
                    log);
            assertEquals(List.of(), ports(bridge), "the tap went with QEMU");
        } finally {
            Command.run("ip", "link", "del", bridge);
        }
    }

    @Test
    @Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aRefusedBridgeOrUidMakesQemuFailWithTheHelpersMessage() throws Exception {
        assumeQemu();
        String bridge = Names.random("vbr");
        Command.run("ip", "link", "add", bridge, "type", "bridge");
        try {
            acl("allow all\ndeny " + bridge + "\n");
            Process denied = qemu(bridge, launcher() + " bridge-helper --config " + dir.resolve("bridge.conf"));
            denied.getOutputStream().close();
            assertTrue(denied.waitFor(60, TimeUnit.SECONDS));
            assertNotEquals(0, denied.exitValue());
            assertTrue(
                    stderr(denied).contains("vhostnet bridge-helper: bridge " + bridge + " is denied by "),
                    stderr(denied));
            acl("allow " + bridge + "\n");
            Process uid = qemu(
                    bridge, launcher() + " bridge-helper --config " + dir.resolve("bridge.conf") + " --allow-uid 4242");
            uid.getOutputStream().close();
            assertTrue(uid.waitFor(60, TimeUnit.SECONDS));
            assertNotEquals(0, uid.exitValue());
            assertTrue(stderr(uid).contains("vhostnet bridge-helper: uid 0 gid 0 is not allowed"), stderr(uid));
            assertEquals(List.of(), ports(bridge));
        } finally {
            Command.run("ip", "link", "del", bridge);
        }
    }

    private static void assumeQemu() {
        CommandLineTest.assumeRoot();
        assumeTrue(
                Stream.of("/usr/bin/qemu-system-x86_64", "/usr/local/bin/qemu-system-x86_64")
                        .anyMatch(p -> Files.isExecutable(Path.of(p))),
                "needs qemu-system-x86_64 (Debian: qemu-system-x86)");
    }

    /** What {@code ./vhostnet} is, on the test classpath: QEMU runs {@code helper=} through {@code sh -c} when it has a space. */
    private Path launcher() throws Exception {
        Path script = dir.resolve("vhostnet");
        Files.writeString(
                script,
                "#!/bin/sh\nexec '" + Path.of(System.getProperty("java.home"), "bin", "java") + "' -cp '"
                        + System.getProperty("java.class.path") + "' " + Main.class.getName() + " \"$@\"\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    private Process qemu(String bridge, String helper) throws Exception {
        return new ProcessBuilder(QemuNone.command("-netdev", "bridge,id=n0,br=" + bridge + ",helper=" + helper))
                .redirectError(dir.resolve("qemu-" + bridge + ".err").toFile())
                .start();
    }

    private String stderr(Process qemu) throws Exception {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().endsWith(".err"))
                    .map(p -> {
                        try {
                            return Files.readString(p);
                        } catch (java.io.IOException e) {
                            return e.toString();
                        }
                    })
                    .reduce("", String::concat);
        }
    }

    private static List<String> ports(String bridge) throws Exception {
        try (Stream<Path> brif = Files.list(Path.of("/sys/class/net", bridge, "brif"))) {
            return brif.map(p -> p.getFileName().toString()).toList();
        }
    }
}
