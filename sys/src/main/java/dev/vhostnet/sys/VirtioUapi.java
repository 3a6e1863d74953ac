package dev.vhostnet.sys;

/**
 * {@code <linux/virtio_config.h>}, {@code <linux/virtio_ring.h>} and {@code <linux/virtio_net.h>}:
 * feature bits, the split ring layout and the virtio-net header, as offsets into guest memory.
 */
public final class VirtioUapi {
    private VirtioUapi() {}

    public static final int VIRTIO_F_NOTIFY_ON_EMPTY = 24;
    public static final int VIRTIO_F_ANY_LAYOUT = 27;
    public static final int VIRTIO_F_VERSION_1 = 32;
    public static final int VIRTIO_F_ACCESS_PLATFORM = 33;
    public static final int VIRTIO_F_RING_PACKED = 34;
    public static final int VIRTIO_RING_F_INDIRECT_DESC = 28;
    public static final int VIRTIO_RING_F_EVENT_IDX = 29;

    public static final int VIRTIO_NET_F_CSUM = 0;
    public static final int VIRTIO_NET_F_GUEST_CSUM = 1;
    public static final int VIRTIO_NET_F_MAC = 5;
    public static final int VIRTIO_NET_F_GUEST_TSO4 = 7;
    public static final int VIRTIO_NET_F_GUEST_TSO6 = 8;
    public static final int VIRTIO_NET_F_GUEST_ECN = 9;
    public static final int VIRTIO_NET_F_GUEST_UFO = 10;
    public static final int VIRTIO_NET_F_HOST_TSO4 = 11;
    public static final int VIRTIO_NET_F_HOST_TSO6 = 12;
    public static final int VIRTIO_NET_F_HOST_ECN = 13;
    public static final int VIRTIO_NET_F_HOST_UFO = 14;
    public static final int VIRTIO_NET_F_MRG_RXBUF = 15;
    public static final int VIRTIO_NET_F_MQ = 22;

    public static final int VRING_DESC_F_NEXT = 1;
    public static final int VRING_DESC_F_WRITE = 2;
    public static final int VRING_DESC_F_INDIRECT = 4;
    public static final int VRING_USED_F_NO_NOTIFY = 1;
    public static final int VRING_AVAIL_F_NO_INTERRUPT = 1;

    @CExpr("sizeof(struct vring_desc)")
    public static final int VRING_DESC_SIZE = 16;

    @CExpr("offsetof(struct vring_desc, addr)")
    public static final int VRING_DESC_ADDR = 0;

    @CExpr("offsetof(struct vring_desc, len)")
    public static final int VRING_DESC_LEN = 8;

    @CExpr("offsetof(struct vring_desc, flags)")
    public static final int VRING_DESC_FLAGS = 12;

    @CExpr("offsetof(struct vring_desc, next)")
    public static final int VRING_DESC_NEXT = 14;

    @CExpr("offsetof(struct vring_avail, flags)")
    public static final int VRING_AVAIL_FLAGS = 0;

    @CExpr("offsetof(struct vring_avail, idx)")
    public static final int VRING_AVAIL_IDX = 2;

    @CExpr("offsetof(struct vring_avail, ring)")
    public static final int VRING_AVAIL_RING = 4;

    @CExpr("offsetof(struct vring_used, flags)")
    public static final int VRING_USED_FLAGS = 0;

    @CExpr("offsetof(struct vring_used, idx)")
    public static final int VRING_USED_IDX = 2;

    @CExpr("offsetof(struct vring_used, ring)")
    public static final int VRING_USED_RING = 4;

    @CExpr("sizeof(struct vring_used_elem)")
    public static final int VRING_USED_ELEM_SIZE = 8;

    @CExpr("offsetof(struct vring_used_elem, len)")
    public static final int VRING_USED_ELEM_LEN = 4;
    /** The alignment {@code <linux/virtio_ring.h>}'s legacy layout puts the used ring at. */
    @CExpr("VRING_USED_ALIGN_SIZE")
    public static final int VRING_USED_ALIGN = 4;

    @CExpr("VRING_AVAIL_ALIGN_SIZE")
    public static final int VRING_AVAIL_ALIGN = 2;

    @CExpr("VRING_DESC_ALIGN_SIZE")
    public static final int VRING_DESC_ALIGN = 16;

    public static final int VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
    public static final int VIRTIO_NET_HDR_F_DATA_VALID = 2;
    public static final int VIRTIO_NET_HDR_GSO_NONE = 0;
    public static final int VIRTIO_NET_HDR_GSO_TCPV4 = 1;
    public static final int VIRTIO_NET_HDR_GSO_UDP = 3;
    public static final int VIRTIO_NET_HDR_GSO_TCPV6 = 4;

    /** The legacy header, without {@code num_buffers}. */
    @CExpr("sizeof(struct virtio_net_hdr)")
    public static final int VIRTIO_NET_HDR_SIZE = 10;
    /** The header with {@code num_buffers}: used with {@code MRG_RXBUF} or {@code VERSION_1}. */
    @CExpr("sizeof(struct virtio_net_hdr_mrg_rxbuf)")
    public static final int VIRTIO_NET_HDR_MRG_RXBUF_SIZE = 12;

    @CExpr("offsetof(struct virtio_net_hdr, flags)")
    public static final int VIRTIO_NET_HDR_FLAGS = 0;

    @CExpr("offsetof(struct virtio_net_hdr, gso_type)")
    public static final int VIRTIO_NET_HDR_GSO_TYPE = 1;

    @CExpr("offsetof(struct virtio_net_hdr, hdr_len)")
    public static final int VIRTIO_NET_HDR_HDR_LEN = 2;

    @CExpr("offsetof(struct virtio_net_hdr, gso_size)")
    public static final int VIRTIO_NET_HDR_GSO_SIZE = 4;

    @CExpr("offsetof(struct virtio_net_hdr, csum_start)")
    public static final int VIRTIO_NET_HDR_CSUM_START = 6;

    @CExpr("offsetof(struct virtio_net_hdr, csum_offset)")
    public static final int VIRTIO_NET_HDR_CSUM_OFFSET = 8;

    @CExpr("offsetof(struct virtio_net_hdr_mrg_rxbuf, num_buffers)")
    public static final int VIRTIO_NET_HDR_NUM_BUFFERS = 10;

    /** The bit of {@code feature} in a 64-bit feature word. */
    public static long bit(int feature) {
        return 1L << feature;
    }
}
