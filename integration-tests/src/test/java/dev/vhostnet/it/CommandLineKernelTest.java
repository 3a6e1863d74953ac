package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.tap.Names;
import dev.vhostnet.tools.Main;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The {@code vhostnet} command where vhost-net exists: the demo takes the kernel backend, and QEMU takes the vhost-net fd exec passes. */
@Tag("vhost-net")
class CommandLineKernelTest {
    private static String vhostnet(String stdin, String... args) throws Exception {
        List<String> command =
                new ArrayList<>(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        command.addAll(Arrays.asList(args));
        return JavaProcess.run(command, stdin, Duration.ofSeconds(240));
    }

    @Test
    void theDemoTakesTheKernelBackendWhereVhostNetExists() throws Exception {
        NetFixture.assumeVhostNet();
        String out = vhostnet("", "demo", "--seconds", "1", "--pings", "50");
        assertTrue(out.contains("backend       kernel"), out);
        assertTrue(out.contains("cleanup ") && out.contains("removed"), out);
    }

    @Test
    void qemuStartsWithVhostOnTheVhostNetFdExecPasses() throws Exception {
        NetFixture.assumeVhostNet();
        assumeTrue(
                Files.isExecutable(Path.of("/usr/bin/qemu-system-x86_64")),
                "needs qemu-system-x86_64 (Debian: qemu-system-x86)");
        String qmp = """
                {"execute":"qmp_capabilities"}
                {"execute":"human-monitor-command","arguments":{"command-line":"info network"}}
                {"execute":"quit"}
                """;
        String out = vhostnet(
                qmp,
                "exec",
                "--tap",
                Names.random("vq"),
                "--vhost",
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
                "tap,id=n0,fd={tapfd},vhost=on,vhostfd={vhostfd}",
                "-device",
                "virtio-net-pci,netdev=n0,id=nic0",
                "-qmp",
                "stdio");
        assertTrue(
                out.contains("n0: index=0,type=tap"),
                "QEMU accepted the tap and vhost-net fds (vhost=on fails to start otherwise):\n" + out);
    }
}
