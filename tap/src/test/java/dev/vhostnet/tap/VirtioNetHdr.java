package dev.vhostnet.tap;

import dev.vhostnet.sys.CExpr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_net_hdr} of {@code <linux/virtio_net.h>}, as the tap writes it before each
 * frame (little-endian on this host): the field offsets and flags a test reads and writes,
 * checked against the header by {@link VirtioNetHdrLayoutTest}.
 */
public final class VirtioNetHdr {
    private VirtioNetHdr() {}

    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;

    @CExpr("sizeof(struct virtio_net_hdr)")
    public static final int SIZE = 10;

    @CExpr("sizeof(struct virtio_net_hdr_mrg_rxbuf)")
    public static final int SIZE_MRG_RXBUF = 12;

    @CExpr("offsetof(struct virtio_net_hdr, flags)")
    public static final int FLAGS = 0;

    @CExpr("offsetof(struct virtio_net_hdr, gso_type)")
    public static final int GSO_TYPE = 1;

    @CExpr("offsetof(struct virtio_net_hdr, csum_start)")
    public static final int CSUM_START = 6;

    @CExpr("offsetof(struct virtio_net_hdr, csum_offset)")
    public static final int CSUM_OFFSET = 8;

    /** A header of {@code size} bytes asking the tap to finish the checksum at {@code start + offset}. */
    static byte[] needsCsum(int size, int start, int offset) {
        ByteBuffer h = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        h.put(FLAGS, (byte) VIRTIO_NET_HDR_F_NEEDS_CSUM)
                .put(GSO_TYPE, (byte) VIRTIO_NET_HDR_GSO_NONE)
                .putShort(CSUM_START, (short) start)
                .putShort(CSUM_OFFSET, (short) offset);
        return h.array();
    }

    static int flags(byte[] frame) {
        return frame[FLAGS] & 0xff;
    }

    static int gsoType(byte[] frame) {
        return frame[GSO_TYPE] & 0xff;
    }

    static int csumStart(byte[] frame) {
        return ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getShort(CSUM_START) & 0xffff;
    }

    static int csumOffset(byte[] frame) {
        return ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).getShort(CSUM_OFFSET) & 0xffff;
    }
}
