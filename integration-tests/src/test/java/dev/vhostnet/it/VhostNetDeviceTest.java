package dev.vhostnet.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The device nodes the kernel-backend tests need: {@code /dev/vhost-net} and {@code /dev/kvm}. */
@Tag("vhost-net")
class VhostNetDeviceTest {

    private static final int S_IFMT = 0170000;
    private static final int S_IFCHR = 0020000;

    @Test
    void vhostNetIsACharDeviceAndKvmExists() throws IOException {
        Path vhostNet = Path.of("/dev/vhost-net");
        Assumptions.assumeTrue(Files.exists(vhostNet),
                "no /dev/vhost-net on this host (kernel without CONFIG_VHOST_NET, or module not loaded:"
                        + " modprobe vhost_net); these tests run in the test VM: KernelTestsInVmTest");
        int mode = (int) Files.getAttribute(vhostNet, "unix:mode");
        assertEquals(S_IFCHR, mode & S_IFMT, "/dev/vhost-net is not a character device");
        assertTrue(Files.exists(Path.of("/dev/kvm")), "no /dev/kvm");
    }
}
