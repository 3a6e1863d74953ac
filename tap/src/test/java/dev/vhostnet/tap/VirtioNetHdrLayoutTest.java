package dev.vhostnet.tap;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vhostnet.sys.HeaderCheck;
import java.util.List;
import org.junit.jupiter.api.Test;

class VirtioNetHdrLayoutTest {
    @Test
    void theTestMirrorOfVirtioNetHdrMatchesTheKernelHeader() throws Exception {
        HeaderCheck check = new HeaderCheck(List.of("linux/virtio_net.h")).add(VirtioNetHdr.class);
        assertEquals(8, check.size());
        assertEquals(List.of(), check.mismatches());
    }
}
