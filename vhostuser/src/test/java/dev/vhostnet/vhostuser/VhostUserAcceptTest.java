package dev.vhostnet.vhostuser;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.sys.Fd;
import dev.vhostnet.sys.FileLimit;
import dev.vhostnet.sys.OpenFds;
import dev.vhostnet.sys.Syscalls;
import dev.vhostnet.tap.TapConfig;
import dev.vhostnet.tap.TapDevice;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The back-end's accepting thread outlives a failing {@code accept} (issue 17: the broker's sibling). */
class VhostUserAcceptTest {
    @TempDir
    Path dir;

    @Test
    void keepsAcceptingAfterAcceptFailedWithEmfile() throws Exception {
        try (TapDevice tap = TapDevice.open(TapConfig.builder()
                .name("vuacc%d")
                .vnetHeader(TapConfig.VNET_HDR_MRG_RXBUF)
                .build())) {
            Set<Integer> before = OpenFds.snapshot();
            Path socket = dir.resolve("backend.sock");
            try (VhostUserNetBackend backend = VhostUserNetBackend.listen(socket, tap);
                    SocketChannel first = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                VhostUserFrontend.connect(socket, Duration.ofSeconds(5)).close(); // loads the serving classes first
                Thread.sleep(300); // and lets the back-end close its end of that connection
                long soft = FileLimit.setSoft(lowestFreeDescriptor()); // no new descriptor from here on
                try {
                    first.connect(UnixDomainSocketAddress.of(socket)); // waits in the backlog: accept() gets EMFILE
                    Thread.sleep(300);
                } finally {
                    FileLimit.setSoft(soft);
                }
                first.close();
                try (VhostUserFrontend frontend = VhostUserFrontend.connect(socket, Duration.ofSeconds(5))) {
                    assertTrue(
                            frontend.offeredFeatures().has(dev.vhostnet.ctl.VirtioFeature.VERSION_1),
                            "a front-end after the EMFILE storm is served");
                }
            }
            assertEquals("", OpenFds.leakedSince(before), "descriptors left open");
        }
    }

    /** The number the next descriptor would get: a limit of it fails every open, accept and socket call. */
    private static int lowestFreeDescriptor() throws Exception {
        try (Fd probe = Syscalls.eventfd(0, 0)) {
            return probe.get();
        }
    }
}
