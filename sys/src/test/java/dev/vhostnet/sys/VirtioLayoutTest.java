package dev.vhostnet.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class VirtioLayoutTest {
    @Test
    void virtioFeatureBitsRingLayoutAndNetHeaderMatchTheKernelHeaders() throws Exception {
        HeaderCheck check = new HeaderCheck(
                        List.of("linux/virtio_config.h", "linux/virtio_ring.h", "linux/virtio_net.h"))
                .add(VirtioUapi.class);
        assertEquals(List.of(), check.mismatches());
    }
}
