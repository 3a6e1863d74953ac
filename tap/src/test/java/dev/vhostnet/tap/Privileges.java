package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.vhostnet.sys.Capabilities;
import java.nio.file.Files;
import java.nio.file.Path;

/** JUnit assumptions for tests that need real taps and namespaces. */
final class Privileges {
    private Privileges() {}

    /** Skips unless /dev/net/tun works and this process has CAP_NET_ADMIN. */
    static void assumeTaps() {
        assumeTrue(
                Tun.isAvailable(),
                () -> "needs /dev/net/tun (modprobe tun; in a container pass the device in): "
                        + Tun.unavailabilityCause().getMessage());
        assumeTrue(
                Capabilities.has(Capabilities.CAP_NET_ADMIN),
                "needs CAP_NET_ADMIN to create taps: run the tests as root");
    }

    /** Skips unless taps work and namespaces can be made (root: ip netns add, setns). */
    static void assumeNamespaces() {
        assumeTaps();
        assumeTrue(
                Capabilities.has(Capabilities.CAP_SYS_ADMIN)
                        && (Files.isExecutable(Path.of("/usr/sbin/ip")) || Files.isExecutable(Path.of("/sbin/ip"))),
                "needs root (CAP_SYS_ADMIN) and iproute2's ip to make network namespaces: run the tests as root");
    }
}
