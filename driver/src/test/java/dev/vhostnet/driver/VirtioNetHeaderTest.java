package dev.vhostnet.driver;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_CSUM_OFFSET;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_CSUM_START;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_GSO_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_GSO_TYPE;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_HDR_LEN;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.vhostnet.memtable.MemoryTable;
import org.junit.jupiter.api.Test;

class VirtioNetHeaderTest {
    private static final VirtioNetHeader HDR = new VirtioNetHeader(1, 4, 74, 1428, 54, 16, 3);

    @Test
    void fieldsLandAtTheKernelHeaderOffsetsAndReadBack() throws Exception {
        try (MemoryTable memory = MemoryTable.builder().region(0, 4096).build()) {
            HDR.writeTo(memory, 100, 12);
            assertEquals(1, memory.getByte(100 + VIRTIO_NET_HDR_FLAGS));
            assertEquals(4, memory.getByte(100 + VIRTIO_NET_HDR_GSO_TYPE));
            assertEquals(74, memory.getShort(100 + VIRTIO_NET_HDR_HDR_LEN));
            assertEquals(1428, memory.getShort(100 + VIRTIO_NET_HDR_GSO_SIZE));
            assertEquals(54, memory.getShort(100 + VIRTIO_NET_HDR_CSUM_START));
            assertEquals(16, memory.getShort(100 + VIRTIO_NET_HDR_CSUM_OFFSET));
            assertEquals(3, memory.getShort(100 + VIRTIO_NET_HDR_NUM_BUFFERS));
            assertEquals(HDR, VirtioNetHeader.readFrom(memory, 100, 12));

            memory.putShort(200 + VIRTIO_NET_HDR_NUM_BUFFERS, (short) 0x7777);
            HDR.writeTo(memory, 200, 10);
            assertEquals(
                    0x7777, memory.getShort(200 + VIRTIO_NET_HDR_NUM_BUFFERS), "the legacy header stops at 10 bytes");
            assertEquals(new VirtioNetHeader(1, 4, 74, 1428, 54, 16, 0), VirtioNetHeader.readFrom(memory, 200, 10));
        }
    }

    @Test
    void rejectsOutOfRangeFieldsAndOtherSizes() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioNetHeader(256, 0, 0, 0, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new VirtioNetHeader(0, 0, 0, 0, 0, 0, 65536));
        assertThrows(
                IllegalArgumentException.class,
                () -> VirtioNetHeader.NONE.writeTo(java.nio.ByteBuffer.allocate(16), 0, 11));
    }
}
