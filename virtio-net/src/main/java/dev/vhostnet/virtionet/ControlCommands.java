package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioNetUapi.*;
import static dev.vhostnet.sys.VirtioUapi.bit;

import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The commands of the control virtqueue, as QEMU's {@code virtio_net_handle_ctrl_iov} dispatches
 * them ({@code virtio_net_handle_rx_mode}, {@code _mac}, {@code _announce}, {@code _mq},
 * {@code _offloads}): a class is served only when its feature was negotiated, every field the
 * driver gives is checked, and each refusal is counted by rule and answered
 * {@code VIRTIO_NET_ERR}. Payloads must be exactly the command's size (QEMU ignores trailing bytes;
 * Linux never sends any). Called on the control queue's thread, one command at a time.
 */
final class ControlCommands {
    private static final Logger log = LoggerFactory.getLogger(ControlCommands.class);
    private static final int ETH_ALEN = 6;

    /** What a command changes outside the device model's own state. */
    interface Target {
        /** {@code VQ_PAIRS_SET}: the backend moves packets on the first {@code count} pairs. */
        void enablePairs(int count) throws IOException;

        /** {@code GUEST_OFFLOADS_SET}: the receive offloads the tap may hand the driver ({@code TUNSETOFFLOAD}). */
        void setGuestOffloads(long offloads) throws IOException;
    }

    private final long features;
    private final int maxPairs;
    private final NetConfigSpace config;
    private final AtomicReference<RxFilter> filter;
    private final VirtioNetCounters counters;
    private final Target target;

    ControlCommands(
            long features,
            int maxPairs,
            NetConfigSpace config,
            AtomicReference<RxFilter> filter,
            VirtioNetCounters counters,
            Target target) {
        this.features = features;
        this.maxPairs = maxPairs;
        this.config = config;
        this.filter = filter;
        this.counters = counters;
        this.target = target;
    }

    /** Runs command {@code cls}/{@code cmd} with the payload {@code data[offset, offset + length)}; returns the reply byte. */
    int execute(int cls, int cmd, byte[] data, int offset, int length) {
        ByteBuffer payload = ByteBuffer.wrap(data, offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        String refusal = switch (cls) {
            case VIRTIO_NET_CTRL_RX -> needs(VIRTIO_NET_F_CTRL_RX, "CTRL_RX") ? rxMode(cmd, payload) : NOT_NEGOTIATED;
            case VIRTIO_NET_CTRL_MAC -> mac(cmd, payload);
            case VIRTIO_NET_CTRL_ANNOUNCE ->
                needs(VIRTIO_NET_F_GUEST_ANNOUNCE, "GUEST_ANNOUNCE") ? announce(cmd, payload) : NOT_NEGOTIATED;
            case VIRTIO_NET_CTRL_MQ ->
                needs(VirtioUapi.VIRTIO_NET_F_MQ, "MQ") ? multiqueue(cmd, payload) : NOT_NEGOTIATED;
            case VIRTIO_NET_CTRL_GUEST_OFFLOADS ->
                needs(VIRTIO_NET_F_CTRL_GUEST_OFFLOADS, "CTRL_GUEST_OFFLOADS")
                        ? offloads(cmd, payload)
                        : NOT_NEGOTIATED;
            default ->
                refuse(
                        Refusal.CTRL_CLASS,
                        "class " + cls + " is not served (VLAN, notification coalescing and "
                                + "unknown classes are not offered)");
        };
        if (refusal == null) {
            counters.commandOk();
            return VIRTIO_NET_OK;
        }
        log.debug("control command {}/{}: {}", cls, cmd, refusal);
        return VIRTIO_NET_ERR;
    }

    /** Marks a refusal already counted by {@link #needs}. */
    private static final String NOT_NEGOTIATED = "not negotiated";

    private boolean needs(int feature, String name) {
        if ((features & bit(feature)) == 0) {
            refuse(Refusal.CTRL_CLASS, "the class needs " + name + ", which the driver did not negotiate");
            return false;
        }
        return true;
    }

    private String refuse(Refusal r, String what) {
        counters.count(r, what);
        return what;
    }

    private String length(String command, ByteBuffer payload, int expected) {
        return payload.remaining() == expected
                ? null
                : refuse(Refusal.CTRL_LENGTH, command + " takes " + expected + " bytes, not " + payload.remaining());
    }

    /** {@code virtio_net_handle_rx_mode}: promiscuous or all-multicast on ({@code != 0}) or off; the other modes need {@code CTRL_RX_EXTRA}, not offered. */
    private String rxMode(int cmd, ByteBuffer payload) {
        if (cmd != VIRTIO_NET_CTRL_RX_PROMISC && cmd != VIRTIO_NET_CTRL_RX_ALLMULTI) {
            return refuse(Refusal.CTRL_COMMAND, "RX command " + cmd + " needs CTRL_RX_EXTRA, not offered");
        }
        String bad = length("RX mode", payload, 1);
        if (bad != null) {
            return bad;
        }
        boolean on = payload.get(0) != 0;
        filter.updateAndGet(f -> cmd == VIRTIO_NET_CTRL_RX_PROMISC ? f.withPromiscuous(on) : f.withAllMulticast(on));
        return null;
    }

    /** {@code virtio_net_handle_mac}: {@code TABLE_SET} (two {@code struct virtio_net_ctrl_mac}), {@code ADDR_SET} (6 bytes). */
    private String mac(int cmd, ByteBuffer payload) {
        if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
            if ((features & bit(VIRTIO_NET_F_CTRL_MAC_ADDR)) == 0) {
                return refuse(
                        Refusal.CTRL_COMMAND, "MAC_ADDR_SET needs CTRL_MAC_ADDR, which the driver did not negotiate");
            }
            String bad = length("MAC_ADDR_SET", payload, ETH_ALEN);
            if (bad != null) {
                return bad;
            }
            byte[] bytes = new byte[ETH_ALEN];
            payload.get(bytes);
            MacAddress mac = MacAddress.of(bytes);
            if (!mac.isUnicast() || mac.isZero()) {
                return refuse(Refusal.CTRL_MAC_ADDR, "MAC_ADDR_SET " + mac + " is not a unicast address");
            }
            config.setMac(mac);
            return null;
        }
        if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET) {
            return refuse(Refusal.CTRL_COMMAND, "MAC command " + cmd + " does not exist");
        }
        if ((features & bit(VIRTIO_NET_F_CTRL_RX)) == 0) {
            return refuse(Refusal.CTRL_COMMAND, "MAC_TABLE_SET needs CTRL_RX, which the driver did not negotiate");
        }
        List<MacAddress> uni = new ArrayList<>();
        List<MacAddress> multi = new ArrayList<>();
        String bad = table("unicast", payload, uni);
        if (bad == null) {
            bad = table("multicast", payload, multi);
        }
        if (bad == null && payload.hasRemaining()) {
            bad = refuse(Refusal.CTRL_MAC_TABLE, payload.remaining() + " bytes after the multicast table");
        }
        if (bad != null) {
            return bad;
        }
        filter.updateAndGet(f -> f.withTable(uni, multi));
        return null;
    }

    /** One {@code struct virtio_net_ctrl_mac}: {@code entries} (32 bits), then that many addresses, all inside the payload. */
    private String table(String kind, ByteBuffer payload, List<MacAddress> into) {
        if (payload.remaining() < VIRTIO_NET_CTRL_MAC_MACS) {
            return refuse(Refusal.CTRL_MAC_TABLE, "the " + kind + " table has no entry count");
        }
        long entries = payload.getInt() & 0xffff_ffffL;
        if (entries * ETH_ALEN > payload.remaining()) {
            return refuse(
                    Refusal.CTRL_MAC_TABLE,
                    "the " + kind + " table claims " + entries + " entries in " + payload.remaining() + " bytes");
        }
        byte[] bytes = new byte[ETH_ALEN];
        for (long i = 0; i < entries; i++) {
            payload.get(bytes);
            into.add(MacAddress.of(bytes.clone()));
        }
        return null;
    }

    /** {@code virtio_net_handle_announce}: {@code ACK} clears {@code VIRTIO_NET_S_ANNOUNCE}, if it was set. */
    private String announce(int cmd, ByteBuffer payload) {
        if (cmd != VIRTIO_NET_CTRL_ANNOUNCE_ACK) {
            return refuse(Refusal.CTRL_COMMAND, "ANNOUNCE command " + cmd + " does not exist");
        }
        String bad = length("ANNOUNCE_ACK", payload, 0);
        if (bad != null) {
            return bad;
        }
        if ((config.status() & VIRTIO_NET_S_ANNOUNCE) == 0) {
            return refuse(Refusal.CTRL_ANNOUNCE, "ANNOUNCE_ACK with no announcement pending");
        }
        config.setStatusBit(VIRTIO_NET_S_ANNOUNCE, false);
        return null;
    }

    /** {@code virtio_net_handle_mq}: {@code VQ_PAIRS_SET} with 1..{@code max_virtqueue_pairs}; RSS and hash reports are not offered. */
    private String multiqueue(int cmd, ByteBuffer payload) {
        if (cmd != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET) {
            return refuse(Refusal.CTRL_COMMAND, "MQ command " + cmd + " needs RSS or HASH_REPORT, not offered");
        }
        String bad = length("VQ_PAIRS_SET", payload, VIRTIO_NET_CTRL_MQ_SIZE);
        if (bad != null) {
            return bad;
        }
        int pairs = payload.getShort(0) & 0xffff;
        if (pairs < VIRTIO_NET_CTRL_MQ_VQ_PAIRS_MIN || pairs > maxPairs) {
            return refuse(Refusal.CTRL_PAIRS, "VQ_PAIRS_SET " + pairs + " is outside 1.." + maxPairs);
        }
        try {
            target.enablePairs(pairs);
        } catch (IOException | RuntimeException e) {
            return refuse(Refusal.CTRL_BACKEND, "VQ_PAIRS_SET " + pairs + ": " + e.getMessage());
        }
        return null;
    }

    /** {@code virtio_net_handle_offloads}: a subset of the receive offloads negotiated. */
    private String offloads(int cmd, ByteBuffer payload) {
        if (cmd != VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET) {
            return refuse(Refusal.CTRL_COMMAND, "GUEST_OFFLOADS command " + cmd + " does not exist");
        }
        String bad = length("GUEST_OFFLOADS_SET", payload, 8);
        if (bad != null) {
            return bad;
        }
        long offloads = payload.getLong(0);
        long allowed = features & NetFeatures.GUEST_OFFLOADS;
        if ((offloads & ~allowed) != 0) {
            return refuse(
                    Refusal.CTRL_OFFLOADS,
                    "GUEST_OFFLOADS_SET 0x" + Long.toHexString(offloads) + " asks for 0x"
                            + Long.toHexString(offloads & ~allowed) + ", not negotiated");
        }
        try {
            target.setGuestOffloads(offloads);
        } catch (IOException | RuntimeException e) {
            return refuse(
                    Refusal.CTRL_BACKEND, "GUEST_OFFLOADS_SET 0x" + Long.toHexString(offloads) + ": " + e.getMessage());
        }
        return null;
    }
}
