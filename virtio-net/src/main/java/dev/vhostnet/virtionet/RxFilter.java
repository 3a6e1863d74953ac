package dev.vhostnet.virtionet;

import com.google.common.collect.ImmutableList;
import dev.vhostnet.tap.MacAddress;
import java.util.List;

/**
 * What the driver asked of receive filtering through the control queue ({@code VIRTIO_NET_CTRL_RX},
 * {@code VIRTIO_NET_CTRL_MAC_TABLE_SET}): promiscuous and all-multicast modes and the MAC table, at
 * most {@value #MAC_TABLE_ENTRIES} entries with an overflow flag per kind beyond that, as QEMU keeps
 * them ({@code n->promisc}, {@code n->mac_table}).
 *
 * <p>As in QEMU with vhost-net, the filter is kept and shown ({@link VirtioNetDevice#rxFilter()}),
 * not applied by the datapath: the tap hands the device every frame the host sends it. A VMM may act
 * on it (QEMU emits {@code NIC_RX_FILTER_CHANGED}).
 */
public record RxFilter(
        boolean promiscuous,
        boolean allMulticast,
        ImmutableList<MacAddress> unicast,
        ImmutableList<MacAddress> multicast,
        boolean unicastOverflow,
        boolean multicastOverflow) {
    /** QEMU's {@code MAC_TABLE_ENTRIES}: unicast and multicast together. */
    public static final int MAC_TABLE_ENTRIES = 64;

    /** After a reset: promiscuous (QEMU's {@code virtio_net_reset}: {@code n->promisc = 1}), an empty table. */
    public static final RxFilter RESET =
            new RxFilter(true, false, ImmutableList.of(), ImmutableList.of(), false, false);

    RxFilter withPromiscuous(boolean on) {
        return new RxFilter(on, allMulticast, unicast, multicast, unicastOverflow, multicastOverflow);
    }

    RxFilter withAllMulticast(boolean on) {
        return new RxFilter(promiscuous, on, unicast, multicast, unicastOverflow, multicastOverflow);
    }

    /**
     * {@code VIRTIO_NET_CTRL_MAC_TABLE_SET}: the table the driver gave, each kind kept whole if it
     * fits in what is left of the {@value #MAC_TABLE_ENTRIES} entries, else dropped and flagged
     * overflowed (QEMU: the device then passes that kind through).
     */
    RxFilter withTable(List<MacAddress> uni, List<MacAddress> multi) {
        boolean uniFits = uni.size() <= MAC_TABLE_ENTRIES;
        boolean multiFits = multi.size() <= MAC_TABLE_ENTRIES - (uniFits ? uni.size() : 0);
        return new RxFilter(
                promiscuous,
                allMulticast,
                uniFits ? ImmutableList.copyOf(uni) : ImmutableList.of(),
                multiFits ? ImmutableList.copyOf(multi) : ImmutableList.of(),
                !uniFits,
                !multiFits);
    }
}
