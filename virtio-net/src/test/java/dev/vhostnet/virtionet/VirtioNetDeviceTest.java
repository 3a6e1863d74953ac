package dev.vhostnet.virtionet;

import static dev.vhostnet.sys.VirtioUapi.bit;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vhostnet.ctl.BackendChoice;
import dev.vhostnet.sys.VirtioNetUapi;
import dev.vhostnet.sys.VirtioUapi;
import dev.vhostnet.tap.MacAddress;
import dev.vhostnet.testkit.TapInNamespace;
import dev.vhostnet.virtionet.VirtioNetCounters.Refusal;
import org.junit.jupiter.api.Test;

/** The device model without traffic: the config space byte for byte, the offer, the FEATURES_OK check, the control commands' effects. */
class VirtioNetDeviceTest {
    @Test
    void theConfigSpaceIsStructVirtioNetConfigByteForByte() {
        MacAddress mac = MacAddress.parse("52:54:00:ab:cd:ef");
        long offered = bit(VirtioUapi.VIRTIO_NET_F_MAC)
                | bit(VirtioNetUapi.VIRTIO_NET_F_STATUS)
                | bit(VirtioUapi.VIRTIO_NET_F_MQ)
                | bit(VirtioNetUapi.VIRTIO_NET_F_MTU)
                | bit(VirtioNetUapi.VIRTIO_NET_F_SPEED_DUPLEX);
        NetConfigSpace space = new NetConfigSpace(mac, true, 4, 9000, 10000, 1, offered);
        VirtioNetUapi.VirtioNetConfig c = new VirtioNetUapi.VirtioNetConfig();
        c.mac = mac.bytes();
        c.status = VirtioNetUapi.VIRTIO_NET_S_LINK_UP;
        c.max_virtqueue_pairs = 4;
        c.mtu = (short) 9000;
        c.speed = 10000;
        c.duplex = 1;
        c.write();
        assertArrayEquals(
                c.getPointer().getByteArray(0, VirtioNetUapi.VirtioNetConfig.SIZE),
                space.bytes(),
                "the bytes JNA lays out for the header-checked struct (little-endian host)");
        assertEquals(
                VirtioNetUapi.VIRTIO_NET_CONFIG_DUPLEX + 1,
                space.size(),
                "up to duplex (SPEED_DUPLEX), QEMU's cfg size");
        assertEquals(8, NetConfigSpace.size(bit(VirtioUapi.VIRTIO_NET_F_MAC) | bit(VirtioNetUapi.VIRTIO_NET_F_STATUS)));
    }

    @Test
    void refusesFeatureSubsetsBreakingTheSpecsDependencies() {
        assertNull(NetFeatures.unmetDependency(NetFeatures.CTRL_VQ | NetFeatures.MQ));
        assertTrue(NetFeatures.unmetDependency(NetFeatures.MQ).contains("without CTRL_VQ"));
        assertTrue(NetFeatures.unmetDependency(bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO4))
                .contains("GUEST_CSUM"));
        assertTrue(
                NetFeatures.unmetDependency(bit(VirtioUapi.VIRTIO_NET_F_HOST_ECN) | bit(VirtioUapi.VIRTIO_NET_F_CSUM))
                        .contains("HOST_ECN"));
        assertEquals(
                bit(VirtioUapi.VIRTIO_NET_F_CSUM),
                NetFeatures.closed(bit(VirtioUapi.VIRTIO_NET_F_CSUM)
                        | bit(VirtioNetUapi.VIRTIO_NET_F_CTRL_RX)
                        | bit(VirtioUapi.VIRTIO_NET_F_GUEST_TSO6)));
    }

    @Test
    void offersTheModelsFeaturesWithinTheVmmsAllowanceAndRefusesAnUnservableSubsetAtFeaturesOk() throws Exception {
        try (Rig rig = Rig.open(Registers.Kind.MMIO, BackendChoice.Policy.EMULATED, 2)) {
            long offered = rig.regs.deviceFeatures();
            for (int f : new int[] {
                VirtioUapi.VIRTIO_F_VERSION_1,
                VirtioUapi.VIRTIO_NET_F_MAC,
                VirtioNetUapi.VIRTIO_NET_F_STATUS,
                VirtioNetUapi.VIRTIO_NET_F_CTRL_VQ,
                VirtioUapi.VIRTIO_NET_F_MQ,
                VirtioNetUapi.VIRTIO_NET_F_MTU,
                VirtioUapi.VIRTIO_NET_F_MRG_RXBUF,
                VirtioUapi.VIRTIO_NET_F_CSUM,
                VirtioNetUapi.VIRTIO_NET_F_CTRL_GUEST_OFFLOADS
            }) {
                assertTrue((offered & bit(f)) != 0, "offers bit " + f + " in 0x" + Long.toHexString(offered));
            }
            assertFalse(
                    (offered & bit(VirtioUapi.VIRTIO_F_ANY_LAYOUT)) != 0,
                    "bit 27 is vhost's VIRTIO_NET_HDR too: not offered");
            long version1 = bit(VirtioUapi.VIRTIO_F_VERSION_1);
            assertTrue(NetGuest.negotiate(rig.regs, version1 | NetFeatures.MQ).isEmpty(), "MQ without CTRL_VQ");
            assertEquals(1, rig.device.counters().get(Refusal.FEATURES));
            assertEquals(1500, rig.regs.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_MTU, 2));
            assertEquals(2, rig.regs.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_MAX_VIRTQUEUE_PAIRS, 2));
            rig.regs.writeConfig(0, 1, 0x33);
            assertEquals(
                    TapInNamespace.GUEST_MAC.bytes()[0] & 0xff,
                    rig.regs.readConfig(0, 1),
                    "the config space is read-only");
            assertEquals(1, rig.device.counters().get(Refusal.CONFIG_WRITE));
        }
        try (Rig rig = Rig.open(Registers.Kind.MMIO, BackendChoice.Policy.EMULATED, 1)) {
            assertEquals(0, rig.regs.deviceFeatures() & NetFeatures.MQ, "one pair: no MQ");
        }
    }

    @Test
    void controlCommandsChangeTheMacTheFilterAndTheLinkAsTheDriverSees() throws Exception {
        try (Rig rig = Rig.open(Registers.Kind.PCI, BackendChoice.Policy.EMULATED, 1)) {
            NetGuest guest = rig.probe();
            int generation = rig.regs.configGeneration();
            assertEquals(
                    0,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC,
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC_ADDR_SET,
                            new byte[] {0x52, 0x54, 0, 1, 2, 3}));
            assertEquals(MacAddress.parse("52:54:00:01:02:03"), rig.device.mac());
            assertEquals(0x52, rig.regs.readConfig(0, 1));
            assertEquals(
                    0,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_RX, VirtioNetUapi.VIRTIO_NET_CTRL_RX_PROMISC, new byte[] {0
                            }));
            assertEquals(
                    0,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC,
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC_TABLE_SET,
                            new byte[] {1, 0, 0, 0, 0x52, 0x54, 0, 9, 9, 9, 1, 0, 0, 0, 0x33, 0x33, 0, 0, 0, 1}));
            RxFilter filter = rig.device.rxFilter();
            assertFalse(filter.promiscuous());
            assertEquals("[52:54:00:09:09:09]", filter.unicast().toString());
            assertEquals("[33:33:00:00:00:01]", filter.multicast().toString());
            assertEquals(
                    1,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC,
                            VirtioNetUapi.VIRTIO_NET_CTRL_MAC_TABLE_SET,
                            new byte[] {9, 0, 0, 0, 1, 2}),
                    "a table claiming more entries than it has");
            assertEquals(
                    1,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_ANNOUNCE,
                            VirtioNetUapi.VIRTIO_NET_CTRL_ANNOUNCE_ACK,
                            new byte[0]),
                    "nothing to acknowledge");
            assertTrue(rig.device.announce());
            assertEquals(
                    VirtioNetUapi.VIRTIO_NET_S_ANNOUNCE | VirtioNetUapi.VIRTIO_NET_S_LINK_UP,
                    rig.regs.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_STATUS, 2));
            assertEquals(
                    0,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_ANNOUNCE,
                            VirtioNetUapi.VIRTIO_NET_CTRL_ANNOUNCE_ACK,
                            new byte[0]));
            rig.device.setLinkUp(false);
            assertEquals(0, rig.regs.readConfig(VirtioNetUapi.VIRTIO_NET_CONFIG_STATUS, 2));
            assertEquals(generation + 2, rig.regs.configGeneration(), "announce and link down each a config change");
            long csumOnly = bit(VirtioUapi.VIRTIO_NET_F_GUEST_CSUM);
            assertEquals(
                    0,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                            VirtioNetUapi.VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
                            Registers.le(csumOnly, 8)));
            assertEquals("[CSUM]", rig.net.tap.offloads().toString(), "TUNSETOFFLOAD with what the driver allows");
            assertEquals(
                    1,
                    guest.command(
                            VirtioNetUapi.VIRTIO_NET_CTRL_GUEST_OFFLOADS,
                            VirtioNetUapi.VIRTIO_NET_CTRL_GUEST_OFFLOADS_SET,
                            Registers.le(1L << 40, 8)));
            rig.regs.writeStatus(0);
            assertEquals(TapInNamespace.GUEST_MAC, rig.device.mac(), "a reset restores the configured MAC");
            assertTrue(rig.device.rxFilter().promiscuous());
        }
    }
}
