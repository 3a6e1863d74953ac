package dev.vhostnet.driver;

import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_CSUM_OFFSET;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_CSUM_START;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_FLAGS;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_GSO_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_GSO_TYPE;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_HDR_LEN;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_MRG_RXBUF_SIZE;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_NUM_BUFFERS;
import static dev.vhostnet.sys.VirtioUapi.VIRTIO_NET_HDR_SIZE;

import com.google.common.base.Preconditions;
import dev.vhostnet.memtable.MemoryTable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_net_hdr_mrg_rxbuf} ({@code <linux/virtio_net.h>}): the offload metadata in
 * front of every frame. The 10-byte legacy form has no {@code num_buffers} (read as 0).
 */
public record VirtioNetHeader(
        int flags, int gsoType, int hdrLen, int gsoSize, int csumStart, int csumOffset, int numBuffers) {
    /** No offloads. */
    public static final VirtioNetHeader NONE = new VirtioNetHeader(0, 0, 0, 0, 0, 0, 0);

    public VirtioNetHeader {
        checkRange("flags", flags, 0xff);
        checkRange("gsoType", gsoType, 0xff);
        checkRange("hdrLen", hdrLen, 0xffff);
        checkRange("gsoSize", gsoSize, 0xffff);
        checkRange("csumStart", csumStart, 0xffff);
        checkRange("csumOffset", csumOffset, 0xffff);
        checkRange("numBuffers", numBuffers, 0xffff);
    }

    private static void checkRange(String field, int value, int max) {
        Preconditions.checkArgument(value >= 0 && value <= max, "%s must be 0..%s, not %s", field, max, value);
    }

    /** Reads a header of {@code size} (10 or 12) bytes at {@code gpa}. */
    public static VirtioNetHeader readFrom(MemoryTable memory, long gpa, int size) {
        checkSize(size);
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        memory.read(gpa, b.array(), 0, size);
        return readFrom(b, 0, size);
    }

    /** Reads a header of {@code size} (10 or 12) bytes at {@code offset} of a little-endian buffer. */
    public static VirtioNetHeader readFrom(ByteBuffer b, int offset, int size) {
        checkSize(size);
        return new VirtioNetHeader(
                Byte.toUnsignedInt(b.get(offset + VIRTIO_NET_HDR_FLAGS)),
                Byte.toUnsignedInt(b.get(offset + VIRTIO_NET_HDR_GSO_TYPE)),
                Short.toUnsignedInt(b.getShort(offset + VIRTIO_NET_HDR_HDR_LEN)),
                Short.toUnsignedInt(b.getShort(offset + VIRTIO_NET_HDR_GSO_SIZE)),
                Short.toUnsignedInt(b.getShort(offset + VIRTIO_NET_HDR_CSUM_START)),
                Short.toUnsignedInt(b.getShort(offset + VIRTIO_NET_HDR_CSUM_OFFSET)),
                size == VIRTIO_NET_HDR_MRG_RXBUF_SIZE
                        ? Short.toUnsignedInt(b.getShort(offset + VIRTIO_NET_HDR_NUM_BUFFERS))
                        : 0);
    }

    /** Writes this header as {@code size} (10 or 12) bytes at {@code gpa}; the 10-byte form drops {@code numBuffers}. */
    public void writeTo(MemoryTable memory, long gpa, int size) {
        checkSize(size);
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        writeTo(b, 0, size);
        memory.write(gpa, b.array(), 0, size);
    }

    /** Writes this header as {@code size} (10 or 12) bytes at {@code offset} of a little-endian buffer. */
    public void writeTo(ByteBuffer b, int offset, int size) {
        checkSize(size);
        b.put(offset + VIRTIO_NET_HDR_FLAGS, (byte) flags);
        b.put(offset + VIRTIO_NET_HDR_GSO_TYPE, (byte) gsoType);
        b.putShort(offset + VIRTIO_NET_HDR_HDR_LEN, (short) hdrLen);
        b.putShort(offset + VIRTIO_NET_HDR_GSO_SIZE, (short) gsoSize);
        b.putShort(offset + VIRTIO_NET_HDR_CSUM_START, (short) csumStart);
        b.putShort(offset + VIRTIO_NET_HDR_CSUM_OFFSET, (short) csumOffset);
        if (size == VIRTIO_NET_HDR_MRG_RXBUF_SIZE) {
            b.putShort(offset + VIRTIO_NET_HDR_NUM_BUFFERS, (short) numBuffers);
        }
    }

    private static void checkSize(int size) {
        Preconditions.checkArgument(
                size == VIRTIO_NET_HDR_SIZE || size == VIRTIO_NET_HDR_MRG_RXBUF_SIZE,
                "a virtio-net header is %s or %s bytes, not %s",
                VIRTIO_NET_HDR_SIZE,
                VIRTIO_NET_HDR_MRG_RXBUF_SIZE,
                size);
    }
}
