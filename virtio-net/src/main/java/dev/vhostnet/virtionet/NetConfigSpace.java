package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_DUPLEX;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_MAC;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_MTU;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_SIZE;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_SPEED;
import static dev.vhostnet.sys.VirtioNetUapi.VIRTIO_NET_CONFIG_STATUS;
import static dev.vhostnet.sys.VirtioUapi.bit;

import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.MacAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code struct virtio_net_config} as the driver reads it, little-endian (virtio 1.x), laid out by
 * the offsets the header check verified: MAC, status (link up, announce), {@code max_virtqueue_pairs},
 * MTU, speed, duplex. Its size is QEMU's {@code virtio_net_cfg_size}: up to the last field an offered
 * feature gives a meaning to. The MAC and status change under a running device (the control queue,
 * the VMM), so access is synchronized.
 */
final class NetConfigSpace {
    /** {@code SPEED_UNKNOWN}: any value above {@code INT_MAX}. */
    static final int SPEED_UNKNOWN = -1;
    /** {@code DUPLEX_UNKNOWN}: any value but 0 and 1. */
    static final int DUPLEX_UNKNOWN = 0xff;

    private final MacAddress configuredMac;
    private final int maxPairs;
    private final int mtu;
    private final int speed;
    private final int duplex;
    private final int size;
    private MacAddress mac;
    private int status;

    NetConfigSpace(MacAddress mac, boolean linkUp, int maxPairs, int mtu, int speed, int duplex, long offered) {
        this.configuredMac = mac;
        this.mac = mac;
        this.status = linkUp ? VirtioNetUapi.VIRTIO_NET_S_LINK_UP : 0;
        this.maxPairs = maxPairs;
        this.mtu = mtu;
        this.speed = speed;
        this.duplex = duplex;
        this.size = size(offered);
    }

    /** QEMU's {@code virtio_net_cfg_size}: at least the MAC, then the end of each field an offered feature covers. */
    static int size(long offered) {
        int size = VIRTIO_NET_CONFIG_MAC + 6;
        if ((offered & bit(VirtioNetUapi.VIRTIO_NET_F_STATUS)) != 0) {
            size = Math.max(size, VIRTIO_NET_CONFIG_STATUS + 2);
        }
        if ((offered & bit(VirtioUapi.VIRTIO_NET_F_MQ)) != 0) {
            size = Math.max(size, VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS + 2);
        }
        if ((offered & bit(VirtioNetUapi.VIRTIO_NET_F_MTU)) != 0) {
            size = Math.max(size, VIRTIO_NET_CONFIG_MTU + 2);
        }
        if ((offered & bit(VirtioNetUapi.VIRTIO_NET_F_SPEED_DUPLEX)) != 0) {
            size = Math.max(size, VIRTIO_NET_CONFIG_DUPLEX + 1);
        }
        return size;
    }

    int size() {
        return size;
    }

    /** The whole structure as it stands ({@code VIRTIO_NET_CONFIG_SIZE} bytes; the driver sees {@link #size()} of them). */
    synchronized byte[] bytes() {
        ByteBuffer b = ByteBuffer.allocate(VIRTIO_NET_CONFIG_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.position(VIRTIO_NET_CONFIG_MAC);
        b.put(mac.bytes());
        b.putShort(VIRTIO_NET_CONFIG_STATUS, (short) status);
        b.putShort(VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS, (short) maxPairs);
        b.putShort(VIRTIO_NET_CONFIG_MTU, (short) mtu);
        b.putInt(VIRTIO_NET_CONFIG_SPEED, speed);
        b.put(VIRTIO_NET_CONFIG_DUPLEX, (byte) duplex);
        return b.array();
    }

    /** {@code virtio_net_get_config}: {@code data.length} bytes from {@code offset}, inside {@link #size()} (the transport checked). */
    void read(int offset, byte[] data) {
        System.arraycopy(bytes(), offset, data, 0, data.length);
    }

    synchronized MacAddress mac() {
        return mac;
    }

    /** {@code VIRTIO_NET_CTRL_MAC_ADDR_SET}: the driver's MAC, shown in the config space from now on. */
    synchronized void setMac(MacAddress mac) {
        this.mac = mac;
    }

    synchronized int status() {
        return status;
    }

    synchronized void setStatusBit(int bit, boolean on) {
        status = on ? status | bit : status & ~bit;
    }

    /** {@code virtio_net_reset}: the MAC the VMM configured again, no announcement pending; the link stays as it is. */
    synchronized void reset() {
        mac = configuredMac;
        status &= ~VirtioNetUapi.VIRTIO_NET_S_ANNOUNCE;
    }
}
