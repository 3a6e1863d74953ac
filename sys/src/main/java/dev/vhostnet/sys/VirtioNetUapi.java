package dev.vhostnet.sys;

import com.sun.jna.Structure;
import com.sun.jna.Structure.FieldOrder;

/**
 * {@code <linux/virtio_net.h>}, the device model's half (the feature bits the datapath needs and the
 * packet header are in {@link VirtioUapi}): the feature bits a device model offers, the
 * configuration space {@code struct virtio_net_config}, and the control virtqueue's classes,
 * commands and replies.
 */
public final class VirtioNetUapi {
    private VirtioNetUapi() {}

    public static final int VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 2;
    public static final int VIRTIO_NET_F_MTU = 3;
    public static final int VIRTIO_NET_F_STATUS = 16;
    public static final int VIRTIO_NET_F_CTRL_VQ = 17;
    public static final int VIRTIO_NET_F_CTRL_RX = 18;
    public static final int VIRTIO_NET_F_CTRL_VLAN = 19;
    public static final int VIRTIO_NET_F_CTRL_RX_EXTRA = 20;
    public static final int VIRTIO_NET_F_GUEST_ANNOUNCE = 21;
    public static final int VIRTIO_NET_F_CTRL_MAC_ADDR = 23;
    public static final int VIRTIO_NET_F_SPEED_DUPLEX = 63;

    /** {@code virtio_net_config.status} bits. */
    public static final int VIRTIO_NET_S_LINK_UP = 1;

    public static final int VIRTIO_NET_S_ANNOUNCE = 2;

    @CExpr("sizeof(struct virtio_net_config)")
    public static final int VIRTIO_NET_CONFIG_SIZE = 24;

    @CExpr("offsetof(struct virtio_net_config, mac)")
    public static final int VIRTIO_NET_CONFIG_MAC = 0;

    @CExpr("offsetof(struct virtio_net_config, status)")
    public static final int VIRTIO_NET_CONFIG_STATUS = 6;

    @CExpr("offsetof(struct virtio_net_config, max_virtqueue_pairs)")
    public static final int VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS = 8;

    @CExpr("offsetof(struct virtio_net_config, mtu)")
    public static final int VIRTIO_NET_CONFIG_MTU = 10;

    @CExpr("offsetof(struct virtio_net_config, speed)")
    public static final int VIRTIO_NET_CONFIG_SPEED = 12;

    @CExpr("offsetof(struct virtio_net_config, duplex)")
    public static final int VIRTIO_NET_CONFIG_DUPLEX = 16;

    /** {@code struct virtio_net_config} (packed, little-endian with {@code VERSION_1}). */
    @CExpr("struct virtio_net_config")
    @FieldOrder({
        "mac",
        "status",
        "max_virtqueue_pairs",
        "mtu",
        "speed",
        "duplex",
        "rss_max_key_size",
        "rss_max_indirection_table_length",
        "supported_hash_types"
    })
    public static final class VirtioNetConfig extends Structure {
        public static final int SIZE = 24;
        public byte[] mac = new byte[6];
        public short status;
        public short max_virtqueue_pairs;
        public short mtu;
        public int speed;
        public byte duplex;
        public byte rss_max_key_size;
        public short rss_max_indirection_table_length;
        public int supported_hash_types;

        public VirtioNetConfig() {
            super(Structure.ALIGN_NONE);
        }
    }

    /** Replies, the one byte the device writes into the command's device-writable part. */
    public static final int VIRTIO_NET_OK = 0;

    public static final int VIRTIO_NET_ERR = 1;

    @CExpr("sizeof(struct virtio_net_ctrl_hdr)")
    public static final int VIRTIO_NET_CTRL_HDR_SIZE = 2;

    @CExpr("offsetof(struct virtio_net_ctrl_hdr, class)")
    public static final int VIRTIO_NET_CTRL_HDR_CLASS = 0;

    @CExpr("offsetof(struct virtio_net_ctrl_hdr, cmd)")
    public static final int VIRTIO_NET_CTRL_HDR_CMD = 1;

    public static final int VIRTIO_NET_CTRL_RX = 0;
    public static final int VIRTIO_NET_CTRL_RX_PROMISC = 0;
    public static final int VIRTIO_NET_CTRL_RX_ALLMULTI = 1;
    public static final int VIRTIO_NET_CTRL_RX_ALLUNI = 2;
    public static final int VIRTIO_NET_CTRL_RX_NOMULTI = 3;
    public static final int VIRTIO_NET_CTRL_RX_NOUNI = 4;
    public static final int VIRTIO_NET_CTRL_RX_NOBCAST = 5;

    public static final int VIRTIO_NET_CTRL_MAC = 1;
    public static final int VIRTIO_NET_CTRL_MAC_TABLE_SET = 0;
    public static final int VIRTIO_NET_CTRL_MAC_ADDR_SET = 1;

    @CExpr("offsetof(struct virtio_net_ctrl_mac, entries)")
    public static final int VIRTIO_NET_CTRL_MAC_ENTRIES = 0;

    @CExpr("offsetof(struct virtio_net_ctrl_mac, macs)")
    public static final int VIRTIO_NET_CTRL_MAC_MACS = 4;

    public static final int VIRTIO_NET_CTRL_VLAN = 2;

    public static final int VIRTIO_NET_CTRL_ANNOUNCE = 3;
    public static final int VIRTIO_NET_CTRL_ANNOUNCE_ACK = 0;

    public static final int VIRTIO_NET_CTRL_MQ = 4;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET = 0;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN = 1;
    public static final int VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MAX = 0x8000;

    @CExpr("sizeof(struct virtio_net_ctrl_mq)")
    public static final int VIRTIO_NET_CTRL_MQ_SIZE = 2;

    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS = 5;
    public static final int VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET = 0;
}
