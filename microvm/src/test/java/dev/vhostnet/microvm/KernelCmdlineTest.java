package dev.vhostnet.microvm;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class KernelCmdlineTest {
    @Test
    void aVirtioMmioDeviceIsNamedAsLinuxsVirtioMmioDriverParsesIt() {
        assertEquals("virtio_mmio.device=4K@0xd0000000:5", KernelCmdline.virtioMmioDevice(0x1000, 0xd0000000L, 5));
        assertEquals("virtio_mmio.device=512@0xd0001000:6", KernelCmdline.virtioMmioDevice(512, 0xd0001000L, 6));
    }
}
